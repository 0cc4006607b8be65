#include "cli/certs.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace deepevolve::cli {
namespace {

namespace fs = std::filesystem;

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* c) const { X509_free(c); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

absl::Status OpenSslError(const std::string& what) {
  char buffer[256];
  ERR_error_string_n(ERR_get_error(), buffer, sizeof(buffer));
  return absl::InternalError(absl::StrCat(what, ": ", buffer));
}

absl::StatusOr<Key> NewKey() {
  Key key(EVP_EC_gen("P-256"));
  if (key == nullptr) return OpenSslError("cannot make an EC P-256 key");
  return key;
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return OpenSslError(absl::StrCat("bad extension ", value));
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1 ? absl::OkStatus() : OpenSslError("cannot add an extension");
}

// A certificate for `key` named `common_name`, signed by issuer/issuer_key (itself when
// both are null), with the given extensions (nid, value).
absl::StatusOr<Cert> NewCert(EVP_PKEY* key, const std::string& common_name, X509* issuer,
                             EVP_PKEY* issuer_key, int days,
                             const std::vector<std::pair<int, std::string>>& extensions) {
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof(serial));
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -300);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("deepevolve"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  for (const auto& [nid, value] : extensions) {
    RETURN_IF_ERROR(AddExtension(cert.get(), signer, nid, value));
  }
  if (X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) == 0) {
    return OpenSslError("cannot sign the certificate for " + common_name);
  }
  return cert;
}

absl::Status WriteFile(const fs::path& path, bool secret, const std::function<int(FILE*)>& write) {
  // Secrets are created readable by the owner only: never world-readable, even for an
  // instant (O_EXCL: never through a link someone left there).
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, secret ? 0600 : 0644);
  FILE* f = fd < 0 ? nullptr : fdopen(fd, "w");
  if (f == nullptr) {
    if (fd >= 0) close(fd);
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write ", path.string(), " (it must not exist yet)"));
  }
  const int ok = write(f);
  std::fclose(f);
  return ok == 1 ? absl::OkStatus() : OpenSslError(absl::StrCat("cannot write ", path.string()));
}

absl::Status WritePair(const fs::path& dir, const std::string& stem, EVP_PKEY* key, X509* cert) {
  RETURN_IF_ERROR(WriteFile(dir / (stem + ".key"), true, [&](FILE* f) {
    return PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  }));
  return WriteFile(dir / (stem + ".pem"), false, [&](FILE* f) { return PEM_write_X509(f, cert); });
}

}  // namespace

absl::Status MakeCerts(const CertsOptions& options) {
  const fs::path dir = options.out_dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat("cannot create ", dir.string()));
  if (fs::exists(dir / "ca.key")) {
    return absl::AlreadyExistsError(
        absl::StrCat((dir / "ca.key").string(), " exists; remove the directory to make a new set"));
  }
  std::string san;
  for (const std::string& host : options.hosts) {
    in6_addr addr6;
    in_addr addr4;
    const bool ip = inet_pton(AF_INET, host.c_str(), &addr4) == 1 ||
                    inet_pton(AF_INET6, host.c_str(), &addr6) == 1;
    absl::StrAppend(&san, san.empty() ? "" : ",", ip ? "IP:" : "DNS:", host);
  }
  for (const std::string& name : options.workers) {
    const bool plain = !name.empty() && name.size() <= 64 && absl::ascii_isalnum(name[0]) &&
                       std::all_of(name.begin(), name.end(), [](char c) {
                         return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-';
                       });
    if (!plain) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--worker: '", name.substr(0, 64),
          "' is not a plain name (letters, digits and . _ -, at most 64, starting with a letter "
          "or digit)"));
    }
  }
  if (san.empty()) return absl::InvalidArgumentError("--hosts: at least one name or address");

  ASSIGN_OR_RETURN(Key ca_key, NewKey());
  ASSIGN_OR_RETURN(
      Cert ca, NewCert(ca_key.get(), "deepevolve development CA", nullptr, nullptr, options.days,
                       {{NID_basic_constraints, "critical,CA:TRUE"},
                        {NID_key_usage, "critical,keyCertSign,cRLSign"},
                        {NID_subject_key_identifier, "hash"}}));
  ASSIGN_OR_RETURN(Key master_key, NewKey());
  ASSIGN_OR_RETURN(Cert master, NewCert(master_key.get(), "deepevolve-master", ca.get(),
                                        ca_key.get(), options.days,
                                        {{NID_basic_constraints, "critical,CA:FALSE"},
                                         {NID_key_usage, "critical,digitalSignature"},
                                         {NID_ext_key_usage, "serverAuth"},
                                         {NID_subject_alt_name, san}}));
  RETURN_IF_ERROR(WritePair(dir, "ca", ca_key.get(), ca.get()));
  RETURN_IF_ERROR(WritePair(dir, "master", master_key.get(), master.get()));
  std::vector<std::pair<std::string, std::string>> workers = {{"worker", "deepevolve-worker"}};
  for (const std::string& name : options.workers) workers.push_back({"worker-" + name, name});
  for (const auto& [file, name] : workers) {
    ASSIGN_OR_RETURN(Key key, NewKey());
    ASSIGN_OR_RETURN(Cert cert, NewCert(key.get(), name, ca.get(), ca_key.get(), options.days,
                                        {{NID_basic_constraints, "critical,CA:FALSE"},
                                         {NID_key_usage, "critical,digitalSignature"},
                                         {NID_ext_key_usage, "clientAuth"}}));
    RETURN_IF_ERROR(WritePair(dir, file, key.get(), cert.get()));
  }
  unsigned char random[32];
  if (RAND_bytes(random, sizeof(random)) != 1) return OpenSslError("no random bytes");
  const std::string token =
      absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(random), sizeof(random)));
  return WriteFile(dir / "token", true,
                   [&](FILE* f) { return std::fprintf(f, "%s\n", token.c_str()) > 0 ? 1 : 0; });
}

}  // namespace deepevolve::cli
