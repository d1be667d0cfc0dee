/** Small builders shared by the balancer tests. */
import { Target } from '../../../../src/upstream/target.js'
import type { Balancer, BalancerInput } from '../../../../src/upstream/balancer/index.js'

export function target (port: number, weight = 1, backup = false): Target {
  return new Target({ address: { kind: 'tcp', host: '127.0.0.1', port, id: `127.0.0.1:${port}` }, weight, backup })
}

export function input (over: Partial<BalancerInput> = {}): BalancerInput {
  return { ip: '10.0.0.1', path: '/', query: '', headers: {}, ...over }
}

/** Every item of an iteration; stops at 100 so that a broken iterator cannot hang a test. */
export function drain (it: Iterator<Target>): Target[] {
  const out: Target[] = []
  for (let r = it.next(); r.done !== true && out.length < 100; r = it.next()) out.push(r.value)
  return out
}

/** The first choice of `count` consecutive picks. */
export function firsts (balancer: Balancer, count: number, request: BalancerInput = input()): (Target | undefined)[] {
  const out: (Target | undefined)[] = []
  for (let i = 0; i < count; i++) {
    const r = balancer.pick(request).next()
    out.push(r.done === true ? undefined : r.value)
  }
  return out
}
