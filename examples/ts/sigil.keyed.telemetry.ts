// The seed's example in the newer field names: meta.key, events[].key and
// semver strings.  The database normalizes both generations to the same spec,
// so registering this after sigil.telemetry.ts is a no-op.
import { StabilityEnum, type TelemetrySpec } from '@contracts/lib.contracts';

export const SigilTelemetry = {
  meta: {
    key: 'sigil.telemetry',
    version: '1.0.0',
    title: 'Sigil telemetry',
    description: 'Core Sigil product telemetry',
    domain: 'sigil',
    owners: ['@team.analytics'],
    tags: ['telemetry'],
    stability: StabilityEnum.Experimental,
  },
  config: {
    defaultRetentionDays: 30,
    defaultSamplingRate: 1,
    providers: [
      { type: 'posthog', config: { projectApiKey: process.env.POSTHOG_KEY } },
    ],
  },
  events: [
    {
      key: 'sigil.telemetry.workflow_step',
      version: '1.0.0',
      semantics: {
        what: 'Workflow step executed',
        who: 'Actor executing the workflow',
      },
      privacy: 'internal',
      properties: {
        workflow: { type: 'string', required: true },
        step: { type: 'string', required: true },
        durationMs: { type: 'number' },
        userId: { type: 'string', pii: true, redact: true },
      },
      anomalyDetection: {
        enabled: true,
        minimumSample: 10,
        thresholds: [{ metric: 'durationMs', max: 1500 }],
        actions: ['alert', 'trigger_regen'],
      },
    },
  ],
} as const satisfies TelemetrySpec;
