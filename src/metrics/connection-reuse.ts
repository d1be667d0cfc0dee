/**
 * connected_to_upstream: whether each upstream request went out on a connection opened
 * for it or on one kept alive from an earlier request. undici tells neither its
 * dispatch handlers nor its connector which; it does publish every request it writes on
 * the `undici:client:sendHeaders` diagnostics channel, with the socket. Sockets of
 * measured upstreams are tagged when they connect (tagConnection); the first request
 * written on a tagged socket counts as fresh, every later one (or h2 stream) as reused.
 * Untagged sockets (unmeasured upstreams, other code's undici) are ignored.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { Socket } from 'node:net'
import type { UpstreamSeries } from './upstream-series.js'

const SEND_HEADERS = 'undici:client:sendHeaders'
const kSeries = Symbol('tollgate.connectionSeries')
const kUsed = Symbol('tollgate.connectionUsed')

interface TaggedSocket extends Socket {
  [kSeries]?: UpstreamSeries
  [kUsed]?: boolean
}

/** A new connection of the upstream `series` counts: its first request is fresh. */
export function tagConnection (socket: Socket, series: UpstreamSeries): void {
  const tagged = socket as TaggedSocket
  tagged[kSeries] = series
  tagged[kUsed] = false
}

function onSendHeaders (message: unknown): void {
  const socket = (message as { socket?: TaggedSocket }).socket
  const series = socket?.[kSeries]
  if (series === undefined || socket === undefined) return
  if (socket[kUsed] === true) {
    series.reused++
  } else {
    socket[kUsed] = true
    series.fresh++
  }
}

/**
 * A request written on `socket` by a client other than undici's (an HTTP/2 stream of the
 * gateway's own h2 client): counted as undici's are.
 */
export function requestSentOn (socket: Socket): void {
  onSendHeaders({ socket })
}

let watchers = 0

/**
 * Subscribes while at least one caller watches: undici builds the channel's message only
 * when someone listens, so a gateway without metrics pays nothing. Returns the
 * unsubscribe function (idempotent).
 */
export function watchConnectionReuse (): () => void {
  if (watchers++ === 0) subscribe(SEND_HEADERS, onSendHeaders)
  let stopped = false
  return () => {
    if (stopped) return
    stopped = true
    if (--watchers === 0) unsubscribe(SEND_HEADERS, onSendHeaders)
  }
}
