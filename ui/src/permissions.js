// What the signed-in caller may do, so the console shows only what the API
// would allow. The server enforces everything; this only hides or disables.

export const ALL = ['SUPER_ADMIN', 'READ_TELEMETRY', 'MANAGE_ACCOUNTS', 'MANAGE_PERMISSIONS'];

/**
 * The permissions of the roles `account` holds that its access token also
 * carries: a newly assigned role applies from the next sign-in, as on the
 * server. SUPER_ADMIN implies every other.
 */
export function effectivePermissions(account, tokenRoles) {
  const held = new Set();
  for (const role of account.roles) {
    if (tokenRoles.includes(role.name)) role.permissions.forEach((p) => held.add(p));
  }
  return held.has('SUPER_ADMIN') ? new Set(ALL) : held;
}

/** Why the caller cannot grant `permissions` (no escalation), or '' when it can. */
export function cannotGrant(held, permissions) {
  const missing = permissions.filter((p) => !held.has(p));
  return missing.length ? `You do not hold ${missing.join(', ')} yourself` : '';
}
