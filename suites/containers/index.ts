import { defineSuite } from '../../src/index.js';
import { concurrencyTests } from './concurrency.js';
import { configTests } from './config.js';
import { customImageTests } from './custom-images.js';
import { dockerCliTests } from './docker-cli.js';
import { engineTests } from './engine.js';
import { execTests } from './exec.js';
import { imageTests, testImagesTest } from './images.js';
import { isolationTests } from './isolation.js';
import { lifecycleTests } from './lifecycle.js';
import { limitsTests } from './limits.js';
import { logTests } from './logs.js';
import { networkTests } from './network.js';
import { registryTests } from './registry.js';
import { restartTests } from './restart.js';
import { statsTests } from './stats.js';
import { volumesTests } from './volumes.js';

/**
 * The Docker Engine API and the kernel behaviour behind it, test by test, against whatever engine
 * the target offers: the reference guest's dockerd, a Docker host, or a kernel's own management API.
 */
export default defineSuite({
  name: 'containers',
  description:
    'Containers through the Docker Engine API: engine, images, lifecycle, config, logs, exec and attach, stats, resource limits, networking, isolation, volumes, restart policies, concurrency, custom images and the docker CLI',
  tests: [
    // Loads the test images (the session's shared fixture): first, so its time is its own.
    testImagesTest,
    ...engineTests,
    ...imageTests,
    ...registryTests,
    ...lifecycleTests,
    ...configTests,
    ...logTests,
    ...execTests,
    ...statsTests,
    ...limitsTests,
    ...networkTests,
    ...isolationTests,
    ...volumesTests,
    ...restartTests,
    ...concurrencyTests,
    ...customImageTests,
    ...dockerCliTests,
  ],
  // One row per area: a test is `containers/<area>-<behaviour>` (engine, images, lifecycle, logs...).
  conformance: { itemKind: 'area', itemDepth: 1, itemOf: ([test]) => test?.split('-')[0] },
});
