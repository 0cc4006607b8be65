#include "common/md5.h"

#include <openssl/evp.h>

#include <memory>
#include <stdexcept>

#include "absl/strings/escaping.h"

namespace deepevolve {

std::string Md5Hex(absl::string_view data) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (ctx == nullptr || EVP_DigestInit_ex(ctx.get(), EVP_md5(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest, &length) != 1) {
    // Only a broken OpenSSL installation gets here; there is no way to go on.
    throw std::runtime_error("OpenSSL EVP MD5 failed");
  }
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), length));
}

}  // namespace deepevolve
