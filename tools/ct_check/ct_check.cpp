// ct_check: the secret-dependent code of the CKKS engine run under valgrind's memcheck with
// every secret marked undefined (Langley's ctgrind method; `make ct-check`). Memcheck
// reports a branch or a memory index that depends on undefined memory as an error, so the
// run fails if key generation, encryption or decryption branches or indexes on a secret:
// the secret key, the randomness behind it and behind errors and ephemeral values, or a
// decrypted message. Public outputs (public and evaluation keys, ciphertexts) are marked
// public when they are published. Built with -DBT_CTGRIND (bt/ct.hpp); elsewhere the
// markers are no-ops.
#include "bt/ckks/encryptor.hpp"
#include "bt/ckks/keys.hpp"
#include "bt/ct.hpp"
#include "bt/cpu.hpp"

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

using namespace bt;
using namespace bt::ckks;

namespace {

void publish(Poly& p) { BT_CT_PUBLIC(p.data.data(), p.data.size() * sizeof(u64)); }
void publish(Ciphertext& ct) {
    for (Poly& p : ct.parts) publish(p);
}
void publish(SwitchingKey& k) {
    for (Poly& p : k.b) publish(p);
    for (Poly& p : k.a) publish(p);
}

ParamsPtr small_params() {
    ParamsLiteral lit;
    lit.log_n = 10;
    lit.log_q = {50, 40, 40};
    lit.log_p = {50};
    lit.log_scale = 40;
    lit.insecure = true;  // a small ring: the code paths are the same at every size
    lit.name = "ct_check_N10";
    return Params::create(lit);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1 && std::string(argv[1]) == "--canary") {
        // The check checks itself: a branch on a marked secret must be reported.
        volatile unsigned char secret = 1;
        BT_CT_SECRET(const_cast<unsigned char*>(&secret), 1);
        if (secret) std::printf("ct_check --canary: branched on a secret\n");
        return 0;
    }
    std::printf("ct_check: SIMD path %s\n", simd_path_name(simd_path()));
    const ParamsPtr P = small_params();
    // ---- key generation: the secret, its NTT form, errors, switching keys
    ct_secret_randomness(true);
    KeyGenerator kg(P);
    const SecretKey sk = kg.secret_key();
    PublicKey pk = kg.public_key(sk);
    RelinKey rk = kg.relin_key(sk);
    GaloisKeys gk = kg.galois_keys(sk, kg.galois_elements_for_steps({1, -3}));
    const SecureVector<std::int8_t> sparse = kg.sparse_ternary_coeffs(32);
    publish(pk.b);
    publish(pk.a);
    publish(rk.key);
    for (auto& [g, k] : gk.keys) publish(k);
    // ---- encryption: public-key (v, e0, e1 secret) and secret-key (s, e secret)
    const Encoder enc(P);
    std::vector<double> msg(P->max_slots());
    for (std::size_t i = 0; i < msg.size(); ++i) msg[i] = std::sin(0.1 * static_cast<double>(i));
    Plaintext pt = enc.encode(msg, P->max_level());
    BT_CT_SECRET(pt.poly.data.data(), pt.poly.data.size() * sizeof(u64));  // the message is the client's secret
    Encryptor epk(P, pk);
    Encryptor esk(P, sk);
    Ciphertext c1 = epk.encrypt(pt);
    Ciphertext c2 = esk.encrypt(pt);
    ct_secret_randomness(false);
    publish(c1);
    publish(c2);
    // ---- decryption: Σ c_i s^i and decoding; the result stays secret until checked
    const Decryptor dec(P, sk);
    double worst = 0;
    for (Ciphertext* c : {&c1, &c2}) {
        std::vector<double> out = decrypt_real(dec, enc, *c);
        BT_CT_PUBLIC(out.data(), out.size() * sizeof(double));  // the check below is not part of the client
        for (std::size_t i = 0; i < msg.size(); ++i) worst = std::max(worst, std::fabs(out[i] - msg[i]));
    }
    std::printf("ct_check: key generation, encryption (public and secret key) and decryption ran with secrets "
                "marked; decryption error 2^%.1f\n", std::log2(worst));
    return worst < 1e-6 ? 0 : 1;
}
