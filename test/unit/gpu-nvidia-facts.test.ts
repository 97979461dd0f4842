import { describe, expect, it } from 'vitest';
import { parseNvidiaFacts } from '../../suites/gpu/nvidia-facts.js';

describe('parseNvidiaFacts', () => {
  it('reads facts and metrics at any indentation, values with spaces, units optional', () => {
    const out = parseNvidiaFacts([
      'KTAP version 1',
      '1..1',
      '    KTAP version 1',
      '    # Subtest: nvml',
      '    # fact: nvml.gpu0.name=NVIDIA H200',
      '    # fact: nvml.driver_version= 550.54.15 ',
      '    ok 1 gpu0_name',
      '# metric: cuda.d2d_bandwidth_gbps=2012.5 GB/s',
      '  #metric: cuda.ratio=1e-3',
      '    # fact: driver.nvrm_version=NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 UTC 2024',
      '    # fact: pci.gpu0.link_speed=32.0 GT/s PCIe',
      '    # fact: pci.gpu0.empty=',
      'ok 1 nvml',
    ]);
    expect(out.facts).toEqual({
      'nvml.gpu0.name': 'NVIDIA H200',
      'nvml.driver_version': '550.54.15',
      'driver.nvrm_version': 'NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 UTC 2024',
      'pci.gpu0.link_speed': '32.0 GT/s PCIe',
      'pci.gpu0.empty': '',
    });
    expect(out.metrics).toEqual([
      { name: 'cuda.d2d_bandwidth_gbps', value: 2012.5, unit: 'GB/s' },
      { name: 'cuda.ratio', value: 0.001, unit: '' },
    ]);
    expect(out.warnings).toEqual([]);
  });

  it('ignores ordinary diagnostics and lines that only mention a fact', () => {
    const out = parseNvidiaFacts(['# nvidia-pci.c:42: fact: x=1', 'ok 1 fact: a=b', '# factual: a=b', '# fact a=b']);
    expect(out).toEqual({ facts: {}, metrics: [], warnings: [] });
  });

  it('warns on a malformed line or a repeated key, and keeps the later value', () => {
    const out = parseNvidiaFacts([
      '# fact: Bad Key=1',
      '# fact: novalue',
      '# metric: cuda.x=fast GB/s',
      '# metric: cuda.y=inf',
      '# metric: cuda.z=1 GB/s extra',
      '# fact: a=1',
      '# fact: a=2',
      '# metric: m=1 ms',
      '# metric: m=2 ms',
    ]);
    expect(out.facts).toEqual({ a: '2' });
    expect(out.metrics).toEqual([{ name: 'm', value: 2, unit: 'ms' }]);
    expect(out.warnings).toHaveLength(7);
    expect(out.warnings[0]).toMatch(/^line 1: fact without a valid key=value/);
    expect(out.warnings[2]).toMatch(/^line 3: metric cuda\.x has no finite number: 'fast GB\/s'/);
    expect(out.warnings[5]).toMatch(/^line 7: fact a given twice/);
  });
});
