/**
 * Starts a Gateway in this process on 127.0.0.1:0 from a config object and closes it after
 * the test. `url` is the first listener's base URL. `TOLLGATE_TEST_ENGINE` (undici or
 * reply-from) picks the engine when the config names none: the test runner runs the e2e
 * suite once per engine. `TOLLGATE_TEST_DOWNSTREAM=h2` makes the default listener TLS
 * with HTTP/2 (test/helpers/downstream.ts); `url` then starts with https.
 */
import type { TestContext } from 'node:test'
import { createLogger } from '../../src/log/create-logger.js'
import { Gateway } from '../../src/gateway.js'
import type { AuthDefinition, GatewayConfig, HealthCheckDefinition } from '../../src/index.js'
import { defaultListen } from './downstream.js'

export interface RunningGateway {
  readonly gateway: Gateway
  readonly url: string
  readonly port: number
}

export interface StartOptions {
  logLevel?: string
  /** Receives every log line (JSON text) instead of stdout. */
  logTo?: (line: string) => void
  /** `defineAuth` hooks the config's custom-auth routes name. */
  auth?: readonly AuthDefinition[]
  /** The custom health checks the config names. */
  healthChecks?: HealthCheckDefinition[]
  /** The clock the HTTP cache reads (ms since the epoch). */
  cacheClock?: () => number
}

const TEST_ENGINE = process.env.TOLLGATE_TEST_ENGINE as 'undici' | 'reply-from' | undefined

export async function startGateway (t: TestContext, config: GatewayConfig, options: StartOptions = {}): Promise<RunningGateway> {
  const level = options.logLevel ?? process.env.TOLLGATE_TEST_LOG ?? 'silent'
  const sink = options.logTo
  const logger = createLogger({ level, format: 'json', ...(sink === undefined ? {} : { destination: { write: (line: string) => sink(line) } }) })
  const gateway = new Gateway({ logger, ...(options.cacheClock === undefined ? {} : { cacheClock: options.cacheClock }) })
  const withListener: GatewayConfig = {
    ...config,
    server: {
      accessLog: false,
      logLevel: (options.logLevel ?? process.env.TOLLGATE_TEST_LOG ?? 'silent') as 'silent',
      listen: [defaultListen()],
      ...(TEST_ENGINE === undefined ? {} : { engine: TEST_ENGINE }),
      ...config.server
    }
  }
  await gateway.apply(withListener as unknown as Record<string, unknown>, {
    ...(options.auth === undefined ? {} : { auth: options.auth }),
    ...(options.healthChecks === undefined ? {} : { healthChecks: options.healthChecks })
  })
  t.after(() => gateway.close(0))
  const address = gateway.addresses()[0]
  if (address === undefined) throw new Error('the gateway has no listener')
  return { gateway, url: `${address.tls ? 'https' : 'http'}://127.0.0.1:${address.port}`, port: address.port }
}
