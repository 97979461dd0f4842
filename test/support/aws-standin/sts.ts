import type { ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { escapeXml } from './ec2-wire.js';
import type { FaultSwitch } from './faults.js';

const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

/** What the stand-in's STS trusts: one role, one web identity token (GitHub's OIDC token in CI). */
export interface WebIdentityTrust {
  roleArn: string;
  token: string;
  /** The credentials a successful exchange hands out: the stand-in's own, so EC2 and S3 accept them. */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
}

/**
 * STS's AssumeRoleWithWebIdentity, the call the SDK's web identity provider makes with
 * AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN: a Query-protocol POST (`Version=2011-06-15`),
 * unsigned (the token is the proof), answered in STS's XML; a refusal is STS's `ErrorResponse`.
 * The `sts` fault refuses the token as STS does when the identity provider's trust does not match.
 */
export function assumeRoleWithWebIdentity(form: URLSearchParams, trust: WebIdentityTrust, faults: FaultSwitch, res: ServerResponse): void {
  const fault = faults.take('sts');
  if (form.get('Version') !== '2011-06-15') return stsError(res, 400, 'InvalidAction', 'Could not find operation AssumeRoleWithWebIdentity for version ' + (form.get('Version') ?? '(none)'));
  const roleArn = form.get('RoleArn');
  const session = form.get('RoleSessionName');
  const token = form.get('WebIdentityToken');
  if (!roleArn || !session || !token) return stsError(res, 400, 'MissingParameter', 'RoleArn, RoleSessionName and WebIdentityToken are required');
  if (fault) return stsError(res, fault.status ?? 400, fault.code ?? 'InvalidIdentityToken', fault.message ?? 'Couldn\'t retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements');
  if (roleArn !== trust.roleArn || token !== trust.token) return stsError(res, 403, 'AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity');
  const expiration = new Date(Date.now() + 3600_000).toISOString();
  const c = trust.credentials;
  const account = /^arn:aws:iam::(\d+):role\/(.+)$/.exec(roleArn);
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<AssumeRoleWithWebIdentityResponse xmlns="${STS_NS}">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>repo:your-org/your-kernel:ref:refs/heads/main</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::${account?.[1] ?? '123456789012'}:assumed-role/${escapeXml(account?.[2] ?? 'role')}/${escapeXml(session)}</Arn>
      <AssumedRoleId>AROA${randomBytes(8).toString('hex').toUpperCase()}:${escapeXml(session)}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>${escapeXml(c.sessionToken)}</SessionToken>
      <SecretAccessKey>${escapeXml(c.secretAccessKey)}</SecretAccessKey>
      <Expiration>${expiration}</Expiration>
      <AccessKeyId>${escapeXml(c.accessKeyId)}</AccessKeyId>
    </Credentials>
    <Provider>token.actions.githubusercontent.com</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>${randomBytes(16).toString('hex')}</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`;
  res.writeHead(200, { 'content-type': 'text/xml' }).end(xml);
}

function stsError(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'text/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?>
<ErrorResponse xmlns="${STS_NS}">
  <Error><Type>Sender</Type><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error>
  <RequestId>${randomBytes(16).toString('hex')}</RequestId>
</ErrorResponse>`);
}
