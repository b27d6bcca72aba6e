// A reference spec using every field of the spec format (see the README's
// "Spec format"), written the way contracts files are: `satisfies`, `as
// const`, StabilityEnum, process.env references, template literals without
// substitutions, negative numbers and null.  support.desk.json beside it is
// the same spec in JSON; the tools suite of scripts/test checks that both
// register to the same catalog.
import { StabilityEnum, type TelemetrySpec } from '@contracts/lib.contracts';

// Not specs: exported beside them and skipped by spec-from-ts.
export const SUPPORT_CHANNELS = ['email', 'chat', 'phone'] as const;
export function channelLabel(channel: (typeof SUPPORT_CHANNELS)[number]): string {
  return channel.toUpperCase();
}

export const SupportDeskTelemetry = {
  meta: {
    key: 'support.desk',
    version: '3.2.0-rc.1',
    title: 'Support desk',
    description: `Tickets from first contact to refund: every field of the spec format, as a reference`,
    domain: 'support',
    owners: ['@team.support', '@team.analytics'],
    tags: ['support', 'sla'],
    stability: StabilityEnum.Beta,
  },
  config: {
    defaultRetentionDays: 60,
    defaultSamplingRate: 0.5,
    context: {
      userId: { type: 'string', pii: true, redaction: 'hash', description: 'customer account, pseudonymized' },
      agentId: { type: 'string', required: true },
      ipAddress: { type: 'string', pii: true, redaction: 'drop' },
      tenant: { type: 'string' },
      clientTime: { type: 'timestamp' },
    },
    providers: [
      { type: 'posthog', config: { projectApiKey: process.env.SUPPORT_POSTHOG_KEY!, host: 'http://127.0.0.1:9400' } },
      // apiKey is the alias of projectApiKey; a literal key is masked in
      // telemetry_spec() for everyone but the owner (prefer references)
      // "alerts": false: this one receives events and no anomaly alerts
      { type: 'posthog', name: 'posthog_legacy', alerts: false, config: { apiKey: 'phc_example_literal_key' } },
      { type: 'segment', name: 'segment_eu', config: { writeKey: { secret: 'support_segment' }, host: 'http://127.0.0.1:9400' } },
      {
        type: 'webhook',
        name: 'escalations',
        config: {
          url: 'http://127.0.0.1:9400/hooks/escalations',
          secret: { secret: 'support_webhook' },
          headers: { 'X-Team': 'support', Authorization: { secret: 'support_hook_token' } },
        },
      },
      {
        type: 'opentelemetry',
        config: {
          endpoint: 'http://127.0.0.1:4318/v1/logs',
          serviceName: 'support-desk',
          headers: { 'x-api-key': process.env['SUPPORT_OTEL_KEY'] },
        },
      },
      // alerts only (never events); the incoming-webhook URL is a credential,
      // so a real one is a { secret: ... } reference
      { type: 'slack', name: 'oncall', config: { url: 'http://127.0.0.1:9400/slack/oncall' } },
      { type: 'internal', name: 'audit' },
    ],
    anomalyDetection: { enabled: true, checkIntervalMs: 10_000 },
  },
  events: [
    {
      key: 'support.page_viewed',
      version: '1.4.0',
      description: 'Help-center page views',
      tags: ['help-center'],
      semantics: { what: 'A help-center page was shown', who: 'Visitor', why: 'Self-service deflection' },
      privacy: 'public',
      properties: {
        path: { type: 'string', required: true },
        referrer: { type: 'string' },
        loadMs: { type: 'number', description: 'time to first render' },
      },
      retention: { days: 7 },
      sampling: { rate: (0.1), by: 'tenant', conditions: [`path <> '/health'`] },
      anomalyDetection: {
        enabled: true,
        minimumSample: 50,
        thresholds: [
          { metric: 'loadMs', aggregate: 'p99', window: '15 minutes', max: 4000 },
          { metric: 'loadMs', aggregate: 'p50', window: '1 hour', max: 800 },
        ],
        actions: ['log'],
      },
    },
    {
      key: 'support.ticket_opened',
      version: '2.0.0',
      semantics: { what: 'A customer opened a ticket', who: 'Customer', why: 'Support volume and channels' },
      privacy: 'pii',
      // routing: only these providers receive the event and its alerts
      providers: ['posthog', 'escalations', 'oncall'],
      properties: {
        ticketId: { type: 'string', required: true },
        channel: { type: 'string', required: true },
        email: { type: 'string', pii: true },
        phone: { type: 'string', pii: true, redaction: 'mask' },
        customerName: { type: 'string', redact: true },
        subject: { type: 'string', pii: true, redaction: 'hash' },
        body: { type: 'json', pii: true, redaction: 'drop' },
        priority: { type: 'number' },
        vip: { type: 'boolean' },
        openedAt: { type: 'timestamp' },
      },
      retention: { days: 365, policy: 'archive' },
      sampling: { rate: 1 },
      anomalyDetection: {
        enabled: true,
        minimumSample: 5,
        thresholds: [
          { aggregate: 'count', window: '10 minutes', min: 1, max: 500 },
          { metric: 'priority', min: 1, max: 5 },
        ],
        actions: ['alert', 'log', 'trigger_regen'],
      },
    },
    {
      key: 'support.sla_breached',
      version: '2.0.0',
      semantics: { what: 'A ticket waited longer than its SLA', who: 'Support agent' },
      privacy: 'internal',
      properties: {
        ticketId: { type: 'string', required: true },
        waitMs: { type: 'number', required: true },
        clockSkewMs: { type: 'number' },
      },
      retention: { days: 90, policy: 'delete' },
      anomalyDetection: {
        enabled: true,
        minimumSample: 10,
        thresholds: [
          { metric: 'waitMs', aggregate: 'avg', window: '30 minutes', max: 3_600_000 },
          { metric: 'waitMs', aggregate: 'max', window: '1 day', max: 86_400_000 },
          { metric: 'waitMs', aggregate: 'p95', window: '7 days', max: 7_200_000 },
          { metric: 'clockSkewMs', aggregate: 'min', window: '5 minutes', min: -5000.5 },
        ],
        actions: ['alert'],
      },
    },
    {
      key: 'support.refund_issued',
      name: 'support.refund_issued',
      version: '1.0.0',
      semantics: { what: 'A refund was paid out', who: 'Support agent', why: null },
      privacy: 'sensitive',
      providers: ['escalations'],
      properties: {
        ticketId: { type: 'string', required: true },
        amount: { type: 'number', required: true },
        iban: { type: 'string' },
      },
      retention: { days: 30, policy: 'archive' },
      sampling: null,
      anomalyDetection: { enabled: false },
    },
    {
      key: 'support.csat_submitted',
      version: 1,
      semantics: { what: 'A customer rated a closed ticket' },
      privacy: 'pii',
      properties: {
        score: { type: 'number', required: true },
        comment: { type: 'string', pii: true, redaction: 'hash' },
      },
      anomalyDetection: {
        minimumSample: 20,
        thresholds: [{ metric: 'score', aggregate: 'avg', window: '1 day', min: 3 }],
        actions: ['alert'],
      },
    },
  ],
} as const satisfies TelemetrySpec;
