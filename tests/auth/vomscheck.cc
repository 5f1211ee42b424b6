// vomscheck PROXYFILE: verify the VOMS ACs of a proxy with the reference VOMS C++ API.
// Prints "ACCEPT VO=<vo> server=<dn>" then "fqan <fqan>" lines, or "REJECT (<code>): <msg>".
#include <voms/voms_api.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <cstdio>
#include <iostream>

int main(int argc, char **argv) {
  if (argc != 2) { std::cerr << "usage: vomscheck PROXY\n"; return 2; }
  FILE *f = std::fopen(argv[1], "r");
  if (!f) { std::perror(argv[1]); return 2; }
  X509 *leaf = PEM_read_X509(f, nullptr, nullptr, nullptr);
  STACK_OF(X509) *chain = sk_X509_new_null();
  while (X509 *c = PEM_read_X509(f, nullptr, nullptr, nullptr)) sk_X509_push(chain, c);
  std::fclose(f);
  if (!leaf) { std::cerr << "no certificate\n"; return 2; }
  vomsdata vd("", "");
  if (!vd.Retrieve(leaf, chain, RECURSE_CHAIN)) {
    std::cout << "REJECT (" << vd.error << "): " << vd.ErrorMessage() << "\n";
    return 1;
  }
  for (const voms &v : vd.data) {
    std::cout << "ACCEPT VO=" << v.voname << " server=" << v.server << "\n";
    for (const std::string &fq : v.fqan) std::cout << "fqan " << fq << "\n";
  }
  return 0;
}
