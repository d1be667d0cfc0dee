/** The source an upstream's compiled `discovery` settings name. */
import type { CompiledDiscovery } from './config.js'
import type { DiscoverySource } from './source.js'
import { FileSource } from './file.js'
import { DnsSource } from './dns.js'
import { DockerSource } from './docker.js'

/** `defaultPort`: for file entries without a port (80, or 443 for a TLS upstream). */
export function createDiscoverySource (config: CompiledDiscovery, defaultPort: number): DiscoverySource {
  switch (config.type) {
    case 'file': return new FileSource(config.path, defaultPort)
    case 'dns': return new DnsSource(config)
    case 'docker': return new DockerSource(config)
  }
}
