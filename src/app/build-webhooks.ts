import type { EventBus } from '../core/event-bus.js';
import type { Logger } from '../core/logger.js';
import { WebhookDispatcher, type WebhookDispatcherOptions, type WebhookMetricsPort, type WebhookTarget } from '../notify/webhook-dispatcher.js';
import { component, type Component } from './component.js';

export interface BuiltWebhooks {
  dispatcher: WebhookDispatcher;
  /**
   * `webhooks`: started right after the event bus, before anything that emits, so that no event of
   * the start (channels restored as `reconnecting`…) is missed; closed just before the bus, after
   * the channels, so that the events of the shutdown are queued and get `drainMs` to go out.
   */
  component: Component;
}

/** The webhook dispatcher of `serve` (with no receivers configured it subscribes to nothing). */
export function buildWebhooks(options: {
  targets: readonly WebhookTarget[];
  bus: EventBus;
  logger: Logger;
  metrics?: WebhookMetricsPort;
  tuning?: Omit<WebhookDispatcherOptions, 'targets' | 'bus' | 'logger' | 'metrics'>;
}): BuiltWebhooks {
  const dispatcher = new WebhookDispatcher({
    targets: options.targets,
    bus: options.bus,
    logger: options.logger,
    ...(options.metrics !== undefined ? { metrics: options.metrics } : {}),
    ...options.tuning,
  });
  return { dispatcher, component: component('webhooks', dispatcher) };
}
