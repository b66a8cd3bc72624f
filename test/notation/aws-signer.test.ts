// Our own AWS-Signer-shaped chains (ECDSA P-384, four certificates, three-day leaf)
// signing JWS and COSE envelopes with AWS Signer's attributes, through every outcome.
import t from 'tap';
import { CborTag } from '../../src/notation/cbor.ts';
import { parseTrustedIdentity, signerOf, verifySignature } from '../../src/notation/index.ts';
import type { RevocationInput, VerificationResult } from '../../src/notation/index.ts';
import { awsChain, awsOptions, DAY, JOB_ARN, NOW, PROFILE_ARN, PROFILE_VERSION_ARN, signAws, TARGET, tamperCose, tamperJws } from './helpers.ts';

const chain = await awsChain();
const code = (r: VerificationResult) => (r.ok ? 'OK' : r.code);
const reason = (r: VerificationResult) => (r.ok ? '' : r.reason);

for (const format of ['jws', 'cose'] as const) {
  t.test(`${format}: valid envelope`, async (t) => {
    const { envelope, mediaType } = signAws(chain, format);
    let seen: RevocationInput | undefined;
    const r = await verifySignature(
      envelope,
      mediaType,
      TARGET,
      awsOptions(chain, {
        checkRevocation: async (input) => {
          seen = input;
          return [];
        },
      }),
    );
    if (!r.ok) return t.fail(`${r.code}: ${r.reason}`);
    t.equal(r.signingScheme, 'notary.x509.signingAuthority');
    t.equal(r.signer, PROFILE_VERSION_ARN);
    t.equal(r.signingJob, JOB_ARN);
    t.equal(r.trustedIdentity, PROFILE_ARN);
    t.equal(r.revocation, 'checked');
    t.same(r.warnings, []);
    t.equal(r.signingTime.getTime(), NOW.getTime() - 60_000);
    t.equal(signerOf(envelope, mediaType), PROFILE_VERSION_ARN);
    t.ok(seen, 'revocation was asked');
    t.equal(seen?.platformId, 'Notation-OCI-SHA384-ECDSA');
    t.equal(seen?.profileVersionArn, PROFILE_VERSION_ARN);
    t.equal(seen?.jobArn, JOB_ARN);
    t.equal(seen?.signatureTimestamp.getTime(), NOW.getTime() - 60_000);
    t.equal(seen?.certificateHashes.length, 4);
    t.ok(
      seen?.certificateHashes.every((h) => /^[0-9a-f]{192}$/.test(h)),
      '4 pairs of SHA-384 hex',
    );
  });

  t.test(`${format}: identities`, async (t) => {
    const { envelope, mediaType } = signAws(chain, format);
    const verify = (ids: string[]) => verifySignature(envelope, mediaType, TARGET, awsOptions(chain, { trustedIdentities: ids.map(parseTrustedIdentity) }));
    t.equal(code(await verify([PROFILE_VERSION_ARN])), 'OK', 'exact profile version ARN');
    t.equal(code(await verify([PROFILE_ARN.toUpperCase().replace('ARN:AWS:SIGNER', 'arn:aws:signer')])), 'OK', 'case-insensitive');
    t.equal(code(await verify([`${PROFILE_ARN}/OtherVersion1`])), 'UNTRUSTED_IDENTITY', 'another version');
    t.equal(code(await verify([`${PROFILE_ARN}2`])), 'UNTRUSTED_IDENTITY', 'a profile whose name extends ours');
    t.equal(code(await verify(['arn:aws:signer:us-east-1:444455556666:/signing-profiles/release'])), 'UNTRUSTED_IDENTITY', 'another account');
    const wildcard = await verify(['*']);
    t.equal(code(wildcard), 'UNTRUSTED_IDENTITY', '"*" is refused for AWS Signer, as its plugin refuses it');
    t.match(reason(wildcard), /every AWS account/);
    t.equal(
      code(await verify(['x509.subject: C=US, ST=WA, O=ecr-admission test'])),
      'UNTRUSTED_IDENTITY',
      'AWS Signer signatures are identified by profile, not subject',
    );
  });

  t.test(`${format}: tampering breaks integrity`, async (t) => {
    const { envelope, mediaType } = signAws(chain, format);
    const otherDigest = `sha256:${'1'.repeat(64)}`;
    const payload =
      format === 'jws'
        ? tamperJws(envelope, {
            payload: (p) => {
              (p.targetArtifact as { digest: string }).digest = otherDigest;
            },
          })
        : tamperCose(envelope, {
            payload: (p) => {
              (p.targetArtifact as { digest: string }).digest = otherDigest;
            },
          });
    t.equal(code(await verifySignature(payload, mediaType, { ...TARGET, digest: otherDigest }, awsOptions(chain))), 'INTEGRITY', 'payload');

    const otherProfile = `${PROFILE_ARN}/Forged00001`;
    const header =
      format === 'jws'
        ? tamperJws(envelope, {
            protected: (h) => {
              h['com.amazonaws.signer.signingProfileVersion'] = otherProfile;
            },
          })
        : tamperCose(envelope, {
            protected: (h) => {
              h.set('com.amazonaws.signer.signingProfileVersion', otherProfile);
            },
          });
    t.equal(code(await verifySignature(header, mediaType, TARGET, awsOptions(chain))), 'INTEGRITY', 'protected header');

    const time =
      format === 'jws'
        ? tamperJws(envelope, {
            protected: (h) => {
              h['io.cncf.notary.authenticSigningTime'] = '2020-01-01T00:00:00Z';
            },
          })
        : tamperCose(envelope, {
            protected: (h) => {
              h.set('io.cncf.notary.authenticSigningTime', new CborTag(1, 1577836800));
            },
          });
    t.equal(code(await verifySignature(time, mediaType, TARGET, awsOptions(chain))), 'INTEGRITY', 'signing time');
  });

  t.test(`${format}: a different chain cannot carry the signature`, async (t) => {
    const other = await awsChain();
    const { envelope, mediaType } = signAws(chain, format);
    const swapped =
      format === 'jws'
        ? tamperJws(envelope, {
            top: (e) => {
              (e.header as { x5c: string[] }).x5c = other.certificates.map((c) => Buffer.from(c).toString('base64'));
            },
          })
        : tamperCose(envelope, {
            unprotected: (u) => {
              u.set(33, other.certificates);
            },
          });
    t.equal(code(await verifySignature(swapped, mediaType, TARGET, awsOptions(other))), 'INTEGRITY');
    // And our chain is not trusted through someone else's root.
    t.equal(code(await verifySignature(envelope, mediaType, TARGET, awsOptions(other))), 'UNTRUSTED_CHAIN');
  });

  t.test(`${format}: revocation`, async (t) => {
    const { envelope, mediaType } = signAws(chain, format);
    let hashes: string[] = [];
    await verifySignature(
      envelope,
      mediaType,
      TARGET,
      awsOptions(chain, {
        checkRevocation: async (input) => {
          hashes = input.certificateHashes;
          return [];
        },
      }),
    );
    const revokedBy = (entities: string[]) => verifySignature(envelope, mediaType, TARGET, awsOptions(chain, { checkRevocation: async () => entities }));

    const version = await revokedBy([PROFILE_VERSION_ARN]);
    t.equal(code(version), 'REVOKED');
    t.match(reason(version), /signing profile version arn:aws:signer/);
    t.same(version.ok ? [] : version.revokedEntities, [PROFILE_VERSION_ARN]);

    const job = await revokedBy([JOB_ARN]);
    t.equal(code(job), 'REVOKED');
    t.match(reason(job), /signing job arn:aws:signer:.*signing-jobs/);

    const cert = await revokedBy([hashes[1] as string]);
    t.equal(code(cert), 'REVOKED');
    t.match(reason(cert), /certificate "CN=ecr-admission Test Signer us-east-1 CA G1.*" \(chain position 1\)/);

    const leafOnly = await revokedBy([(hashes[0] as string).slice(0, 96)]);
    t.match(reason(leafOnly), /chain position 0/, 'a single certificate hash is recognised too');

    const unknown = await revokedBy(['something-else']);
    t.equal(code(unknown), 'REVOKED', 'anything reported is revoked');

    const warn = await verifySignature(envelope, mediaType, TARGET, awsOptions(chain, { revocation: 'warn', checkRevocation: async () => [JOB_ARN] }));
    t.equal(code(warn), 'OK', 'warn mode lets a revoked signature through...');
    t.equal(warn.ok && warn.revocation, 'revoked');
    t.match(warn.ok ? warn.warnings.join() : '', /revoked in AWS Signer: signing job/, '...with a warning');

    let called = false;
    const skip = await verifySignature(
      envelope,
      mediaType,
      TARGET,
      awsOptions(chain, {
        revocation: 'skip',
        checkRevocation: async () => {
          called = true;
          return [JOB_ARN];
        },
      }),
    );
    t.equal(code(skip), 'OK');
    t.equal(called, false, 'skip does not call');
  });

  t.test(`${format}: revocation callback failing`, async (t) => {
    const { envelope, mediaType } = signAws(chain, format);
    const failing = async () => {
      throw new Error('ThrottlingException: Rate exceeded');
    };
    const enforce = await verifySignature(envelope, mediaType, TARGET, awsOptions(chain, { checkRevocation: failing }));
    t.equal(code(enforce), 'REVOCATION_ERROR');
    t.match(reason(enforce), /ThrottlingException/);
    const warn = await verifySignature(envelope, mediaType, TARGET, awsOptions(chain, { revocation: 'warn', checkRevocation: failing }));
    t.equal(code(warn), 'OK');
    t.equal(warn.ok && warn.revocation, 'unavailable');
    t.match(warn.ok ? warn.warnings[0] : '', /revocation not checked: GetRevocationStatus failed/);
    const missing = await verifySignature(envelope, mediaType, TARGET, { ...awsOptions(chain), checkRevocation: undefined });
    t.equal(code(missing), 'REVOCATION_ERROR', 'enforce without a checker cannot pass');
    const garbage = await verifySignature(
      envelope,
      mediaType,
      TARGET,
      awsOptions(chain, {
        checkRevocation: async () => ({ revokedEntities: [] }) as unknown as string[],
      }),
    );
    t.equal(code(garbage), 'REVOCATION_ERROR', 'a malformed answer is not "not revoked"');
  });

  t.test(`${format}: certificate validity is judged at the authentic signing time`, async (t) => {
    // Leaf valid from 10 days ago for 3 days: expired now, as AWS Signer leaves soon are.
    const old = await awsChain({ leafNotBefore: new Date(NOW.getTime() - 10 * DAY) });
    const during = signAws(old, format, { signingTime: new Date(NOW.getTime() - 9 * DAY) });
    const r = await verifySignature(during.envelope, during.mediaType, TARGET, awsOptions(old));
    t.equal(code(r), 'OK', 'expired now, valid when signed: passes');

    const after = signAws(old, format, { signingTime: new Date(NOW.getTime() - 5 * DAY) });
    const late = await verifySignature(after.envelope, after.mediaType, TARGET, awsOptions(old));
    t.equal(code(late), 'CERT_VALIDITY', 'signed after the leaf expired');
    const before = signAws(old, format, { signingTime: new Date(NOW.getTime() - 11 * DAY) });
    t.equal(code(await verifySignature(before.envelope, before.mediaType, TARGET, awsOptions(old))), 'CERT_VALIDITY', 'signed before the leaf was valid');

    // Without an authentic time (notary.x509, ca store) the same chain is judged now.
    const x509 = signAws(old, format, { aws: undefined, signingScheme: 'notary.x509', signingTime: new Date(NOW.getTime() - 9 * DAY) });
    const ca = await verifySignature(x509.envelope, x509.mediaType, TARGET, {
      ...awsOptions(old),
      trustStores: [{ type: 'ca', name: 'ca', certificates: [old.root] }],
      trustedIdentities: [parseTrustedIdentity('x509.subject: C=US, ST=WA, O=ecr-admission test, CN=ecr-admission Test Signer')],
    });
    t.equal(code(ca), 'CERT_VALIDITY');
  });

  t.test(`${format}: expiry`, async (t) => {
    const { envelope, mediaType } = signAws(chain, format, { expiry: new Date(NOW.getTime() + DAY) });
    const ok = await verifySignature(envelope, mediaType, TARGET, awsOptions(chain));
    t.equal(ok.ok && ok.expiry?.getTime(), NOW.getTime() + DAY);
    const later = await verifySignature(envelope, mediaType, TARGET, awsOptions(chain, { now: new Date(NOW.getTime() + DAY) }));
    t.equal(code(later), 'EXPIRED', 'expired at exactly the expiry time');
  });

  t.test(`${format}: critical attributes and plugins`, async (t) => {
    const unknown = signAws(chain, format, { extraAttributes: { 'com.example.mustUnderstand': { value: 'x', critical: true } } });
    const r1 = await verifySignature(unknown.envelope, unknown.mediaType, TARGET, awsOptions(chain));
    t.equal(code(r1), 'CRITICAL_HEADER');
    t.match(reason(r1), /com\.example\.mustUnderstand/);
    const informational = signAws(chain, format, { extraAttributes: { 'com.example.note': { value: 'x', critical: false } } });
    t.equal(code(await verifySignature(informational.envelope, informational.mediaType, TARGET, awsOptions(chain))), 'OK', 'non-critical extras are fine');

    const plugin = signAws(chain, format, { aws: { profileVersionArn: PROFILE_VERSION_ARN, jobArn: JOB_ARN, pluginName: 'com.example.other.plugin' } });
    const r2 = await verifySignature(plugin.envelope, plugin.mediaType, TARGET, awsOptions(chain));
    t.equal(code(r2), 'UNSUPPORTED_PLUGIN');
    t.match(reason(r2), /com\.example\.other\.plugin/);

    const minVersion = signAws(chain, format, { aws: { profileVersionArn: PROFILE_VERSION_ARN, jobArn: JOB_ARN, pluginMinVersion: '1.0.0' } });
    t.equal(
      code(await verifySignature(minVersion.envelope, minVersion.mediaType, TARGET, awsOptions(chain))),
      'OK',
      'the plugin minimum version is ours to honour',
    );

    const noJob = signAws(chain, format, { aws: { profileVersionArn: PROFILE_VERSION_ARN, jobArn: 'not-an-arn' } });
    t.equal(code(await verifySignature(noJob.envelope, noJob.mediaType, TARGET, awsOptions(chain))), 'CRITICAL_HEADER');

    const wrongScheme = signAws(chain, format, { signingScheme: 'notary.x509' });
    const r3 = await verifySignature(wrongScheme.envelope, wrongScheme.mediaType, TARGET, {
      ...awsOptions(chain),
      trustStores: [{ type: 'ca', name: 'ca', certificates: [chain.root] }],
    });
    t.equal(code(r3), 'UNSUPPORTED_PLUGIN', 'AWS Signer signatures are signingAuthority only');

    const plain = signAws(chain, format, {
      aws: undefined,
      signingScheme: 'notary.x509.signingAuthority',
      extraAttributes: { 'com.amazonaws.signer.signingProfileVersion': { value: PROFILE_VERSION_ARN } },
    });
    const r4 = await verifySignature(plain.envelope, plain.mediaType, TARGET, awsOptions(chain));
    t.equal(code(r4), 'UNTRUSTED_IDENTITY', 'without the plugin attributes a profile ARN cannot match');
  });

  t.test(`${format}: aborted verification`, async (t) => {
    const { envelope, mediaType } = signAws(chain, format);
    const before = await verifySignature(envelope, mediaType, TARGET, awsOptions(chain, { signal: AbortSignal.abort() }));
    t.equal(code(before), 'ABORTED');
    const controller = new AbortController();
    const pending = verifySignature(
      envelope,
      mediaType,
      TARGET,
      awsOptions(chain, {
        signal: controller.signal,
        checkRevocation: () => new Promise<string[]>(() => {}), // ignores the signal, never settles
      }),
    );
    setTimeout(() => controller.abort(), 10);
    t.equal(code(await pending), 'ABORTED', 'returns when aborted even if the checker hangs');
  });
}

t.test('other leaf algorithms: RSA-PSS and the other ECDSA curves', async (t) => {
  for (const leafAlgorithm of ['PS256', 'PS384', 'ES256', 'ES512'] as const) {
    const c = await awsChain({ leafAlgorithm });
    for (const format of ['jws', 'cose'] as const) {
      const { envelope, mediaType } = signAws(c, format);
      const r = await verifySignature(envelope, mediaType, TARGET, awsOptions(c));
      t.equal(code(r), 'OK', `${leafAlgorithm} ${format}`);
    }
    // alg must match the key: claiming another algorithm is an integrity failure.
    const claimed = leafAlgorithm === 'PS256' ? 'PS384' : 'PS256';
    const { envelope, mediaType } = signAws(c, 'jws');
    const forged = tamperJws(envelope, {
      protected: (h) => {
        h.alg = claimed;
      },
    });
    t.equal(code(await verifySignature(forged, mediaType, TARGET, awsOptions(c))), 'INTEGRITY', `${leafAlgorithm} claiming ${claimed}`);
  }
});
