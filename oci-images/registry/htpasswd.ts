/**
 * Credentials for the basic-auth registry: a random user and password per start, and the htpasswd
 * line the registry checks them against. Registry 2.8 accepts only bcrypt entries (it skips any
 * other hash), so the line is bcrypt, made with bcryptjs.
 */
import { randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';

export interface RegistryCredentials {
  username: string;
  /** Not enumerable: JSON.stringify and util.inspect of a credentials object (or a result holding one) leave it out. */
  readonly password: string;
}

/**
 * The registry runs bcrypt on every authenticated request (2.8 caches nothing), so the cost is the
 * lowest bcrypt allows. That is safe here: the password is 24 random bytes, which no cost factor
 * needs to slow an attacker down on, and the hash lives only in this run's private temp dir.
 */
const BCRYPT_COST = 4;

/** Credentials as the caller writes them, with the password kept out of serialisation. */
export function registryCredentials(username: string, password: string): RegistryCredentials {
  const creds = { username } as RegistryCredentials;
  Object.defineProperty(creds, 'password', { value: password, enumerable: false });
  return creds;
}

/** A fresh random user and password (URL- and header-safe characters only). */
export function randomCredentials(): RegistryCredentials {
  return registryCredentials(`tsuite-${randomBytes(4).toString('hex')}`, randomBytes(24).toString('base64url'));
}

/** One `user:bcrypt-hash` line. A `:` or newline in the user would make a different file, so they are refused. */
export async function htpasswdLine(creds: RegistryCredentials): Promise<string> {
  if (/[:\r\n]/.test(creds.username)) throw new Error(`an htpasswd user name cannot contain ':' or a newline: '${creds.username}'`);
  return `${creds.username}:${await bcrypt.hash(creds.password, BCRYPT_COST)}\n`;
}
