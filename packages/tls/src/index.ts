export { type ApiServer, createApiTlsServer } from "./api-tls-server.ts";
export {
  CertificateFiles,
  type CertificateFilesOptions,
  type CertificateMaterial,
  certificateFingerprint,
} from "./certificate-files.ts";
export {
  type CertificateAuthority,
  createCertificateAuthority,
  deviceUri,
  type IssuedCertificate,
  type IssueOptions,
  issueClientCertificate,
  issueDeviceCertificate,
  issueServerCertificate,
} from "./dev-ca.ts";
export { type DevTlsFiles, devTlsFiles, ensureDevTls } from "./dev-tls-dir.ts";
export {
  type ClientTlsFiles,
  caFileProvider,
  grpcClientCredentials,
  grpcClientOptions,
  grpcServerCredentials,
  identityProvider,
} from "./grpc-credentials.ts";
export { followRenewals, secureContextOptions } from "./https-options.ts";
export {
  assertTransportAllowed,
  isLoopback,
  loadServerCertificates,
  MIN_TLS_VERSION,
  PlaintextRefusedError,
  type ServerTlsConfig,
  serverTlsEnv,
} from "./server-tls.ts";
export { type Listener, serverTransport } from "./server-transport.ts";
