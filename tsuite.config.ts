import { defineConfig } from 'tsuite';

// The project's own config. Every field is optional; CLI flags override it.
export default defineConfig({
  reporters: ['console', 'json', 'tap', 'junit'],
  outputDir: 'reports',
  targets: {
    // Overrides of built-in targets go here, e.g. 'qemu-x86': { memoryMb: 1024 },
  },
});
