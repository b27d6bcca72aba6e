// The seed's example as a contracts *.telemetry.ts file, in the older field
// names: meta.name, events[].name and integer versions (1 means 1.0.0).
// spec-from-ts turns it into the same catalog as examples/sigil.telemetry.json.
import { StabilityEnum, type TelemetrySpec } from '@contracts/lib.contracts';

export const SigilTelemetry: TelemetrySpec = {
  meta: {
    name: 'sigil.telemetry',
    version: 1,
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
      name: 'sigil.telemetry.workflow_step',
      version: 1,
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
        thresholds: [
          { metric: 'durationMs', max: 1500 },
        ],
        actions: ['alert', 'trigger_regen'],
      },
    },
  ],
};
