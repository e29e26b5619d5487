// Shared by the train suites: the small insecure ring with enough levels for a training
// step with the secret-key bootstrapping stand-in (N = 2^12, 14 levels at 2^40).
#pragma once

#include "bt/ckks/params.hpp"

#include <string>

namespace bt_test {

inline bt::ckks::ParamsLiteral train_test_literal(const std::string& name) {
    bt::ckks::ParamsLiteral lit;
    lit.log_n = 12;
    lit.log_q.push_back(55);
    for (int i = 0; i < 14; ++i) lit.log_q.push_back(40);
    lit.log_p = {56, 56, 56};
    lit.log_scale = 40;
    lit.insecure = true;
    lit.name = name;
    return lit;
}

}  // namespace bt_test
