/** The Authenticator a route's compiled `auth` describes. */
import type { CompiledAuth } from './config.js'
import type { Authenticator } from './authenticator.js'
import { BearerAuthenticator } from './bearer.js'
import { BasicAuthenticator } from './basic.js'
import { JwtAuthenticator } from './jwt.js'
import { CustomAuthenticator } from './custom.js'

export function createAuthenticator (auth: CompiledAuth): Authenticator {
  switch (auth.type) {
    case 'bearer': return new BearerAuthenticator(auth)
    case 'basic': return new BasicAuthenticator(auth)
    case 'jwt': return new JwtAuthenticator(auth)
    case 'custom': return new CustomAuthenticator(auth)
  }
}
