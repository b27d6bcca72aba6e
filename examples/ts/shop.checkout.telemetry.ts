// examples/shop.checkout.json as a *.telemetry.ts file.  A {"secret": name}
// reference (a row of telemetry.secrets) has no TypeScript form of its own:
// it is written as the object literal.
import { StabilityEnum, type TelemetrySpec } from '@contracts/lib.contracts';

export const ShopCheckoutTelemetry: TelemetrySpec = {
  meta: {
    key: 'shop.checkout',
    version: '2.1.0',
    title: 'Checkout funnel',
    description: 'From cart to paid order, for conversion and payment-latency dashboards',
    domain: 'shop',
    owners: ['@team.checkout', '@team.analytics'],
    tags: ['funnel', 'revenue'],
    stability: StabilityEnum.Stable,
  },
  config: {
    defaultRetentionDays: 90,
    defaultSamplingRate: 1,
    context: {
      userId: { type: 'string', pii: true, redaction: 'hash', description: 'account id, pseudonymized so funnels stay joinable' },
      sessionId: { type: 'string' },
      ip: { type: 'string', pii: true, redaction: 'drop' },
      locale: { type: 'string' },
    },
    providers: [
      { type: 'segment', config: { writeKey: process.env.SEGMENT_WRITE_KEY, host: 'http://127.0.0.1:9400' } },
      { type: 'webhook', name: 'fraud_hook', config: { url: 'http://127.0.0.1:9400/hooks/checkout', secret: { secret: 'checkout_webhook' } } },
    ],
    anomalyDetection: { enabled: true, checkIntervalMs: 5000 },
  },
  events: [
    {
      key: 'shop.cart_viewed',
      version: '2.1.0',
      semantics: { what: 'A shopper opened the cart', who: 'Shopper', why: 'Top of the checkout funnel' },
      privacy: 'internal',
      properties: {
        items: { type: 'number', required: true },
        cartValue: { type: 'number', required: true, description: 'in cents' },
        currency: { type: 'string', required: true },
      },
      sampling: { rate: 0.25, by: 'sessionId' },
      retention: { days: 14 },
    },
    {
      key: 'shop.order_placed',
      version: '2.1.0',
      semantics: { what: 'An order was placed and paid', who: 'Shopper', why: 'Conversion and revenue' },
      privacy: 'pii',
      properties: {
        orderId: { type: 'string', required: true },
        total: { type: 'number', required: true, description: 'in cents' },
        currency: { type: 'string', required: true },
        paymentMs: { type: 'number', description: 'payment provider latency' },
        email: { type: 'string', pii: true, redaction: 'hash' },
        shippingAddress: { type: 'json', pii: true, redact: true },
        placedAt: { type: 'timestamp' },
        giftWrap: { type: 'boolean' },
      },
      retention: { days: 365, policy: 'archive' },
      anomalyDetection: {
        enabled: true,
        minimumSample: 20,
        thresholds: [
          { metric: 'paymentMs', max: 3000 },
          { metric: 'paymentMs', aggregate: 'p95', window: '5 minutes', max: 2000 },
          { aggregate: 'count', window: '1 hour', min: 1 },
        ],
        actions: ['log', 'alert'],
      },
    },
    {
      key: 'shop.payment_failed',
      version: '2.1.0',
      semantics: { what: 'A payment attempt was declined or errored', who: 'Shopper' },
      privacy: 'sensitive',
      properties: {
        orderId: { type: 'string', required: true },
        reason: { type: 'string' },
        cardLast4: { type: 'string' },
      },
      retention: { days: 7 },
    },
  ],
};
