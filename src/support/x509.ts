// @peculiar/x509 needs the Reflect metadata polyfill loaded before it, and a WebCrypto
// provider: import it from here, never directly, so both are always in place.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as never);

export { x509 };
