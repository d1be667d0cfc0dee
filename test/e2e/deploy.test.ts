/**
 * The container and deployment files, checked as far as a machine without a container
 * runtime can: the Dockerfile's stages and commands, its entry command run as it is with
 * /etc/tollgate mapped to a folder, and the compose and Kubernetes files against the
 * gateway config they ship.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse as parseYaml, parseAllDocuments } from 'yaml'
import { ChildLines, endChild } from '../helpers/child.js'
import { client } from '../helpers/client.js'
import { tempFolder } from '../helpers/files.js'
import { startOrigin } from '../helpers/origin.js'
import { copyOf, execForm, readDockerfile, type Stage } from '../helpers/dockerfile.js'
import { loadConfigObject } from '../../src/config/load.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const DEPLOY = join(ROOT, 'deploy')
const IMAGE_CONFIG_DIR = '/etc/tollgate'
const IMAGE_CONFIG = `${IMAGE_CONFIG_DIR}/gateway.yaml`

type Doc = Record<string, any>

const stages = readDockerfile(join(ROOT, 'Dockerfile'))
const runtime = stages.at(-1) as Stage
const only = (stage: Stage, keyword: string) => stage.instructions.filter(i => i.keyword === keyword)
const imageCmd = execForm(only(runtime, 'CMD')[0])
const entryCommand = [...execForm(only(runtime, 'ENTRYPOINT')[0]), ...imageCmd]
const healthCommand = execForm(only(runtime, 'HEALTHCHECK')[0], { after: /^(--\S+\s+)*CMD\s+/ })

/** The gateway config a file holds, compiled with the environment given. */
function compiledFrom (text: string, env: Record<string, string>) {
  return loadConfigObject(parseYaml(text), { env }).compiled
}

function validate (dir: string, env: Record<string, string>): { status: number | null, out: string } {
  const cli = join(ROOT, 'dist/src/cli/main.js')
  const result = spawnSync(process.execPath, [cli, 'validate', '-c', join(dir, 'gateway.yaml')], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env }, timeout: 60_000 })
  return { status: result.status, out: result.stdout + result.stderr }
}

/** The port part of a compose `ports` entry ("127.0.0.1:8080:8080" → 8080, the container's). */
function containerPort (entry: unknown): number {
  return Number(String(entry).split(':').at(-1)?.split('/')[0])
}

test('the Dockerfile builds in one stage and runs in another with production dependencies only, as a non-root user', () => {
  assert.ok(stages.length >= 2, 'a build stage and a runtime stage')
  const runs = only(runtime, 'RUN').map(i => i.args)
  assert.ok(runs.some(run => /\bnpm ci\b[^&;]*--omit=dev/.test(run)), 'the runtime stage installs with npm ci --omit=dev')
  for (const run of runs) {
    for (const install of run.matchAll(/\bnpm (ci|install|i)\b[^&;]*/g)) {
      assert.match(install[0], /--omit=dev/, `a dev dependency install in the runtime stage: ${install[0]}`)
    }
    for (const command of run.split(/&&|\|\||;/)) {
      const program = command.trim().split(/\s+/)[0] as string
      assert.ok(!['tsc', 'npx', 'curl', 'wget', 'apt-get', 'apk'].includes(program), `a dev tool in the runtime stage: ${command}`)
    }
  }
  const build = stages.slice(0, -1)
  assert.ok(build.some(stage => only(stage, 'RUN').some(i => /\btsc\b/.test(i.args)) && only(stage, 'RUN').some(i => /\bnpm ci\b(?![^&;]*--omit=dev)/.test(i.args))),
    'a build stage installs the dev dependencies and compiles')
  const users = only(runtime, 'USER').map(i => i.args.trim())
  assert.ok(users.length > 0 && !['root', '0', '0:0'].includes(users.at(-1) as string), `runs as ${users.at(-1) ?? 'root'}`)
  assert.equal(only(runtime, 'STOPSIGNAL')[0]?.args.trim(), 'SIGTERM')
  assert.equal(healthCommand[0], 'node', 'the health check needs nothing but node')
  const fromBuild = only(runtime, 'COPY').map(copyOf).filter(copy => copy.from !== null)
  assert.ok(fromBuild.length > 0 && fromBuild.every(copy => build.some(stage => stage.name === copy.from)), 'the runtime copies the build output from an earlier stage')
  assert.equal(entryCommand[0], 'node')
  assert.ok(entryCommand.includes(IMAGE_CONFIG), `the image reads ${IMAGE_CONFIG}: ${entryCommand.join(' ')}`)
})

test('every COPY source of the Dockerfile exists and .dockerignore keeps it in the build context', () => {
  const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#'))
  const tsx = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies.tsx
  assert.ok(tsx !== undefined, 'tsx is a production dependency: the image runs TypeScript routes with it')
  let checked = 0
  for (const stage of stages) {
    for (const copy of only(stage, 'COPY').map(copyOf)) {
      if (copy.from !== null) continue
      for (const source of copy.sources) {
        const path = source.replace(/^\.\//, '').replace(/\/$/, '')
        assert.ok(existsSync(join(ROOT, path)), `COPY ${source}: not in the repository`)
        assert.ok(!ignored.some(rule => path === rule || path.startsWith(`${rule}/`)), `COPY ${source}: excluded by .dockerignore`)
        checked++
      }
    }
  }
  assert.ok(checked > 3)
  const configCopy = only(runtime, 'COPY').map(copyOf).find(copy => copy.destination === IMAGE_CONFIG)
  assert.deepEqual(configCopy?.sources, ['deploy/gateway.yaml'])
  const healthScript = healthCommand.find(arg => arg.endsWith('.mjs')) as string
  assert.ok(only(runtime, 'COPY').map(copyOf).some(copy => copy.destination.endsWith(healthScript)), 'the health check script is copied into the image')
})

test('the image entry command, run as it is with /etc/tollgate mapped to a folder, serves a TypeScript route and passes the image health check', async (t) => {
  const origin = await startOrigin(t, 'app')
  const dir = tempFolder(t)
  copyFileSync(join(ROOT, 'deploy/gateway.yaml'), join(dir, 'gateway.yaml'))
  mkdirSync(join(dir, 'routes'))
  writeFileSync(join(dir, 'routes/app.ts'), `import { defineRoute } from 'tollgate'
const routedBy: string = 'routes/app.ts'
export default defineRoute({
  name: 'app',
  match: { path: '/*' },
  upstream: 'app',
  hooks: { upstreamRequest (_request, headers) { headers['x-routed-by'] = routedBy } }
})
`)
  const token = 'image-test-token-0123456789'
  const env = { ...process.env, TOLLGATE_ADMIN_TOKEN: token, TOLLGATE_UPSTREAM: origin.address, TOLLGATE_PORT: '0', TOLLGATE_ADMIN_PORT: '0' }
  const args = entryCommand.slice(1).map(arg => arg.startsWith(IMAGE_CONFIG_DIR) ? dir + arg.slice(IMAGE_CONFIG_DIR.length) : arg)
  // The image's WORKDIR is the repository's root: its relative paths are the same.
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const out = new ChildLines(child, entryCommand.join(' '))
  t.after(async () => { await endChild(out, () => child.kill('SIGKILL')) })
  const json = (line: string): Doc | null => { try { return JSON.parse(line) as Doc } catch { return null } }
  const listening = json(await out.waitFor(line => json(line)?.msg === 'listening', 'the listening line', 60_000)) as Doc
  const admin = json(await out.waitFor(line => json(line)?.msg === 'admin API listening', 'the admin line')) as Doc
  const port = Number(new URL(String(listening.address)).port)

  const reply = await client(t)(`http://127.0.0.1:${port}/orders/1`)
  assert.equal(reply.text, 'Response from APP')
  assert.equal(origin.received[0]?.headers['x-routed-by'], 'routes/app.ts', 'the TypeScript route ran, with no build step')

  const health = (extra: Record<string, string>) => spawnSync(process.execPath, healthCommand.slice(1), {
    cwd: ROOT, encoding: 'utf8', timeout: 30_000, env: { ...process.env, TOLLGATE_ADMIN_PORT: String(admin.admin.port), ...extra }
  })
  assert.equal(health({ TOLLGATE_ADMIN_TOKEN: token }).status, 0, 'healthy with the token')
  assert.equal(health({ TOLLGATE_ADMIN_TOKEN: 'wrong' }).status, 1, 'the check reads the answer: a refused token is unhealthy')

  child.kill(only(runtime, 'STOPSIGNAL')[0]?.args.trim() as NodeJS.Signals)
  assert.deepEqual(await out.exited, { code: 0, signal: null }, 'the stop signal drains and exits 0')
})

test('compose runs the README example: the gateway publishes its config ports, mounts a valid config and routes, and its upstreams and Redis are services', (t) => {
  const compose = parseYaml(readFileSync(join(DEPLOY, 'compose.yaml'), 'utf8')) as Doc
  const services = compose.services as Record<string, Doc>
  const gateway = services.gateway as Doc
  assert.ok(existsSync(resolve(DEPLOY, gateway.build.context, gateway.build.dockerfile)), 'the build context holds the Dockerfile')
  const mounts = new Map((gateway.volumes as string[]).map(v => { const [from, to] = v.split(':'); return [to as string, resolve(DEPLOY, from as string)] }))
  const configFile = mounts.get(IMAGE_CONFIG) as string
  const routesDir = mounts.get(`${IMAGE_CONFIG_DIR}/routes`) as string
  assert.ok(existsSync(configFile) && existsSync(routesDir), 'the mounted config and routes exist')

  const dir = tempFolder(t)
  copyFileSync(configFile, join(dir, 'gateway.yaml'))
  mkdirSync(join(dir, 'routes'))
  for (const file of readdirSync(routesDir)) copyFileSync(join(routesDir, file), join(dir, 'routes', file))
  const checked = validate(dir, { TOLLGATE_ADMIN_TOKEN: 'x' })
  assert.equal(checked.status, 0, checked.out)

  const config = compiledFrom(readFileSync(configFile, 'utf8'), { TOLLGATE_ADMIN_TOKEN: 'x' })
  const published = (gateway.ports as string[]).map(containerPort).sort()
  assert.deepEqual(published, [config.server.listeners[0]?.port, config.admin?.port, config.metrics?.port].sort())
  assert.ok((gateway.ports as string[]).every(p => p.startsWith('127.0.0.1:')), 'published on the host loopback only')
  for (const upstream of config.upstreams.values()) {
    for (const target of upstream.targets) {
      const [host, port] = (target.address as { id: string }).id.split(':')
      const service = services[host as string]
      assert.ok(service !== undefined, `target ${String(host)}:${String(port)}: no such service`)
      assert.match(JSON.stringify(service.command), new RegExp(`listen\\(${port as string}\\)`), `service ${host as string} does not listen on ${port as string}`)
    }
  }
  assert.equal(new URL(config.redis?.url as string).hostname, 'redis')
  assert.ok(services.redis !== undefined)
  assert.ok((gateway.depends_on as string[]).includes('redis'))
})

test('the Kubernetes manifests: probes run the image health check, ports and mounts match the ConfigMap config, which validates, and SIGTERM has time to drain', (t) => {
  const docs: Doc[] = []
  for (const file of readdirSync(join(DEPLOY, 'kubernetes')).filter(f => f.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(readFileSync(join(DEPLOY, 'kubernetes', file), 'utf8'))) {
      assert.deepEqual(doc.errors, [], file)
      docs.push(doc.toJS() as Doc)
    }
  }
  const byKind = (kind: string) => docs.filter(d => d.kind === kind)
  const deployment = byKind('Deployment')[0] as Doc
  const pod = deployment.spec.template.spec as Doc
  const container = pod.containers[0] as Doc
  const configMaps = new Map(byKind('ConfigMap').map(cm => [cm.metadata.name as string, cm.data as Record<string, string>]))

  // Mounts: the image's config path and its routes folder, each from a ConfigMap shipped here.
  const volumes = new Map((pod.volumes as Doc[]).map(v => [v.name as string, v]))
  const mountOf = (path: string) => volumes.get((container.volumeMounts as Doc[]).find(m => m.mountPath === path)?.name)
  const configData = configMaps.get(mountOf(IMAGE_CONFIG_DIR)?.configMap?.name) as Record<string, string>
  const routesData = configMaps.get(mountOf(`${IMAGE_CONFIG_DIR}/routes`)?.configMap?.name) as Record<string, string>
  assert.ok(configData?.['gateway.yaml'] !== undefined, 'a ConfigMap with gateway.yaml is mounted at /etc/tollgate')
  assert.ok(routesData !== undefined, 'a ConfigMap of routes is mounted at /etc/tollgate/routes')
  assert.deepEqual(container.args ?? imageCmd, imageCmd, 'the image command runs /etc/tollgate/gateway.yaml')

  const dir = tempFolder(t)
  writeFileSync(join(dir, 'gateway.yaml'), configData['gateway.yaml'] as string)
  mkdirSync(join(dir, 'routes'))
  for (const [name, text] of Object.entries(routesData)) writeFileSync(join(dir, 'routes', name), text)
  const checked = validate(dir, { TOLLGATE_ADMIN_TOKEN: 'x' })
  assert.equal(checked.status, 0, checked.out)
  const config = compiledFrom(configData['gateway.yaml'] as string, { TOLLGATE_ADMIN_TOKEN: 'x' })

  const ports = new Map((container.ports as Doc[]).map(p => [p.name as string, p.containerPort as number]))
  assert.equal(ports.get('http'), config.server.listeners[0]?.port)
  assert.equal(ports.get('admin'), config.admin?.port)
  assert.equal(ports.get('metrics'), config.metrics?.port)
  const scrape = deployment.spec.template.metadata.annotations as Record<string, string>
  assert.deepEqual([scrape['prometheus.io/scrape'], Number(scrape['prometheus.io/port']), scrape['prometheus.io/path']], ['true', config.metrics?.port, config.metrics?.path], 'Prometheus is pointed at the metrics listener')
  const script = readFileSync(join(ROOT, healthCommand.find(a => a.endsWith('.mjs')) as string), 'utf8')
  assert.match(script, /\/health\b/, 'the health check asks the admin /health')
  assert.equal(Number(/TOLLGATE_ADMIN_PORT \?\? '(\d+)'/.exec(script)?.[1]), config.admin?.port, "the health check's default port is the admin port")
  assert.ok(!(container.env as Doc[]).some(e => e.name === 'TOLLGATE_ADMIN_PORT'))
  for (const probe of ['readinessProbe', 'livenessProbe']) {
    assert.deepEqual(container[probe]?.exec?.command, healthCommand, `${probe} runs the image health check`)
  }
  assert.ok((container.env as Doc[]).some(e => e.name === 'TOLLGATE_ADMIN_TOKEN' && e.valueFrom?.secretKeyRef !== undefined), 'the admin token comes from a Secret')

  const preStop = container.lifecycle?.preStop?.exec?.command as string[]
  assert.equal(preStop?.[0], 'sleep')
  const grace = pod.terminationGracePeriodSeconds as number
  assert.ok(grace > Number(preStop[1]) + config.server.gracefulShutdownMs / 1000, `terminationGracePeriodSeconds ${grace} leaves no time to drain`)
  assert.ok(container.securityContext?.readOnlyRootFilesystem === true && (container.volumeMounts as Doc[]).some(m => m.mountPath === '/tmp'), 'read-only, with /tmp for tsx')

  const service = byKind('Service')[0] as Doc
  assert.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels)
  assert.ok((service.spec.ports as Doc[]).every(p => ports.has(p.targetPort) || [...ports.values()].includes(p.targetPort)), 'the Service targets a container port')
  const hpa = byKind('HorizontalPodAutoscaler')[0] as Doc
  assert.equal(hpa.spec.scaleTargetRef.name, deployment.metadata.name)
  assert.ok(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas > hpa.spec.minReplicas)
})
