// MD5 digests through OpenSSL's EVP interface.
#ifndef DEEPEVOLVE_COMMON_MD5_H_
#define DEEPEVOLVE_COMMON_MD5_H_

#include <string>

#include "absl/strings/string_view.h"

namespace deepevolve {

// Returns the lowercase 32-character hex MD5 of `data`. Thread-safe.
std::string Md5Hex(absl::string_view data);

}  // namespace deepevolve

#endif  // DEEPEVOLVE_COMMON_MD5_H_
