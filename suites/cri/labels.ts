/** Labels on every pod and container the cri suite creates (values: the run id, the test, the scope). */
export const RUN_LABEL = 'tsuite.run';
export const TEST_LABEL = 'tsuite.test';
/** One per test: its cleanup finds what a cut-off create made. */
export const SCOPE_LABEL = 'tsuite.scope';
