/**
 * The errors of the local key service that name a key's state or absence, with what to do.
 */
import { StrongroomError } from '../errors.ts'
import type { TenantRecord } from '../meta/identity.ts'
import type { KeyRecord } from '../meta/keys.ts'

export function notFound(ref: string, tenant: TenantRecord): StrongroomError {
  return new StrongroomError(
    'KEY_NOT_FOUND',
    `tenant \`${tenant.name}\` has no key \`${ref}\`; list its keys with \`strongroom key list --tenant ${tenant.name}\``,
  )
}

export function stateError(key: KeyRecord, action: string): StrongroomError {
  const name = key.alias ?? key.id
  switch (key.state) {
    case 'Disabled':
      return new StrongroomError(
        'KEY_DISABLED',
        `cannot ${action} key \`${name}\`: it is disabled; enable it with \`strongroom key enable\``,
      )
    case 'PendingDeletion':
      return new StrongroomError(
        'KEY_PENDING_DELETION',
        `cannot ${action} key \`${name}\`: it is pending deletion, on ${new Date(key.deletionAt ?? 0).toISOString()}; cancel with \`strongroom key cancel-deletion\``,
      )
    case 'Deleted':
      return new StrongroomError(
        'KEY_DELETED',
        `cannot ${action} key \`${name}\`: it was deleted on ${new Date(key.deletedAt ?? 0).toISOString()} and data sealed under it is unrecoverable`,
      )
    case 'Enabled':
      return new StrongroomError(
        'KEY_STATE_INVALID',
        `cannot ${action} key \`${name}\`: it is already enabled`,
      )
  }
}
