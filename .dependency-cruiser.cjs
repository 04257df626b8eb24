/**
 * Duet's layer order, from the top floor down. A folder imports only folders below it:
 *
 *   app       src/main.ts and the other entry points (src/*.ts, and src/model-pull/cli.ts, whose
 *             path deploy manifests name), src/app/ (app module and factory, the error
 *             filter with its domain-error → status map, shutdown wiring, exit codes)
 *   features  src/modules/{tasks,openai,health,metrics,demo}
 *   model     src/modules/model (the one model), src/model-pull (fetching its file)
 *   shared    src/http (request-level helpers), above src/runtime (process upkeep)
 *   config    src/config (the environment, read once)
 *   task data src/prompts (the tasks file, its schema, loader and layouts)
 *
 * Among features: openai → tasks → metrics, health → metrics; demo stands alone.
 * `npm run lint` runs it (`depcruise src`).
 */
const APP = '^src/(app/|[^/]+\\.ts$|model-pull/cli\\.ts$)';
const FEATURES = '^src/modules/(tasks|openai|health|metrics|demo)/';
const MODEL = '^src/(modules/model|model-pull)/';
const SHARED = '^src/(http|runtime)/';
const CONFIG = '^src/config/';
const TASK_DATA = '^src/prompts/';

const upward = (name, from, above, comment) => ({
  name,
  comment,
  severity: 'error',
  from: { path: from, pathNot: APP },
  to: { path: above },
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'An import cycle: the files depend on each other, so neither can be read or tested alone.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    upward('features-not-up', FEATURES, APP, 'A feature module imports the app layer.'),
    upward('model-not-up', MODEL, `${APP}|${FEATURES}`, 'The model layer knows no features, tasks or HTTP routes.'),
    upward('shared-not-up', SHARED, `${APP}|${FEATURES}|${MODEL}`, 'Shared helpers import no domain code.'),
    upward(
      'config-not-up',
      CONFIG,
      `${APP}|${FEATURES}|${MODEL}|${SHARED}`,
      'Configuration sits below everything but task data.',
    ),
    upward(
      'task-data-not-up',
      TASK_DATA,
      `${APP}|${FEATURES}|${MODEL}|${SHARED}|${CONFIG}`,
      'Task data is the bottom floor.',
    ),
    upward('runtime-below-http', '^src/runtime/', '^src/http/', 'Process upkeep knows no requests.'),
    upward(
      'metrics-is-below-features',
      '^src/modules/metrics/',
      '^src/modules/(tasks|openai|health|demo)/',
      'Features report to metrics, never the reverse.',
    ),
    upward(
      'tasks-below-openai',
      '^src/modules/tasks/',
      '^src/modules/(openai|health|demo)/',
      'The OpenAI surface maps onto tasks, not the reverse.',
    ),
    upward(
      'health-beside-tasks',
      '^src/modules/health/',
      '^src/modules/(tasks|openai|demo)/',
      'Health reads the model and metrics only.',
    ),
    upward(
      'openai-beside-health',
      '^src/modules/openai/',
      '^src/modules/(health|demo)/',
      'The OpenAI surface needs no health or demo code.',
    ),
    upward(
      'demo-alone',
      '^src/modules/demo/',
      '^src/modules/(tasks|openai|health|metrics)/',
      'The demo page calls the API over HTTP.',
    ),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.spec\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
