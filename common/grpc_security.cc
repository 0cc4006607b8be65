#include "common/grpc_security.h"

#include <openssl/bio.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace deepevolve {

absl::StatusOr<std::string> ReadSmallFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", what, " from ", path));
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().size() > (1 << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": too large for ", what));
  }
  return text.str();
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, "a bearer token"));
  std::string token(absl::StripAsciiWhitespace(text.substr(0, text.find('\n'))));
  if (token.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": the token is empty"));
  return token;
}

namespace {

absl::Status CheckPem(const std::string& path, const std::string& text, const char* kind) {
  if (text.find("-----BEGIN") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a PEM file (expected ", kind, " between -----BEGIN lines)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, what));
  RETURN_IF_ERROR(CheckPem(path, text, what));
  return text;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ClientSecurity& security) {
  if (security.insecure) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  if (!security.ca_file.empty()) {
    ASSIGN_OR_RETURN(options.pem_root_certs, ReadPem(security.ca_file, "a CA certificate"));
  }
  if (security.cert_file.empty() != security.key_file.empty()) {
    return absl::InvalidArgumentError("a client certificate needs both --tls-cert and --tls-key");
  }
  if (!security.cert_file.empty()) {
    ASSIGN_OR_RETURN(options.pem_cert_chain, ReadPem(security.cert_file, "a certificate"));
    ASSIGN_OR_RETURN(options.pem_private_key, ReadPem(security.key_file, "a private key"));
  }
  return grpc::SslCredentials(options);
}

void AddToken(grpc::ClientContext& context, const std::string& token) {
  if (!token.empty()) context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerSecurity& security) {
  if (security.insecure) return grpc::InsecureServerCredentials();
  if (security.cert_file.empty() || security.key_file.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs --tls-cert and --tls-key (`deepevolve certs` makes a development set), "
        "or --insecure for plaintext");
  }
  if (security.client_ca_file.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs --tls-client-ca, the CA that signs worker certificates");
  }
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);  // workers must, clients need not
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.cert_chain, ReadPem(security.cert_file, "a certificate"));
  ASSIGN_OR_RETURN(pair.private_key, ReadPem(security.key_file, "a private key"));
  options.pem_key_cert_pairs.push_back(std::move(pair));
  ASSIGN_OR_RETURN(options.pem_root_certs, ReadPem(security.client_ca_file, "a CA certificate"));
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::string> CertificateName(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string pem, ReadSmallFile(path, "a certificate"));
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), pem.size()), &BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr, &X509_free);
  if (cert == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no PEM certificate"));
  }
  char name[256] = {0};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, name,
                                sizeof(name)) <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": the certificate has no common name"));
  }
  return std::string(name);
}

}  // namespace deepevolve
