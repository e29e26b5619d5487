// bt_pretrain's checkpoints and model loading: a checkpoint is a safetensors file with the
// model, its AdamW moments and, when used, the reconstruction decoder's and the contrastive
// projector's parameters and moments, written every epoch so that a run can be resumed;
// load_model reads a final model or the model inside a checkpoint.
#include "pretrain.hpp"

#include "bt/nn/safetensors.hpp"
#include "contrastive.hpp"
#include "heads.hpp"

namespace bt::pretrain {

using namespace bt::nn;

// ------------------------------------------------------------------ checkpoints
void save_checkpoint(const std::string& path, const ViT& m, const AdamW& opt, const Decoder& dec, const Projector& proj,
                     std::size_t step, std::size_t epoch, const std::map<std::string, std::string>& info) {
    std::vector<TensorView> v{{"model", {m.memory.size()}, m.memory.data()},
                              {"adam.m", {opt.m.size()}, opt.m.data()},
                              {"adam.v", {opt.v.size()}, opt.v.data()}};
    if (!dec.p.empty()) {
        v.push_back({"decoder.p", {dec.p.size()}, dec.p.data()});
        v.push_back({"decoder.m", {dec.m.size()}, dec.m.data()});
        v.push_back({"decoder.v", {dec.v.size()}, dec.v.data()});
    }
    if (!proj.p.empty()) {
        v.push_back({"projector.p", {proj.p.size()}, proj.p.data()});
        v.push_back({"projector.m", {proj.m.size()}, proj.m.data()});
        v.push_back({"projector.v", {proj.v.size()}, proj.v.data()});
    }
    std::map<std::string, std::string> md = m.config.to_metadata();
    md["format"] = "bt-vit-checkpoint";
    md["step"] = std::to_string(step);
    md["epoch"] = std::to_string(epoch);
    for (const auto& [k, val] : info) md["info." + k] = val;
    write_safetensors(path, v, md);
}

void load_checkpoint(const std::string& path, ViT& m, AdamW& opt, Decoder* dec, Projector* proj, std::size_t& step,
                     std::size_t& epoch) {
    SafeTensors st = read_safetensors(path);
    auto md = st.metadata;
    if (md["format"] != "bt-vit-checkpoint") die(path + ": not a bt_pretrain checkpoint (format " + md["format"] + ")");
    md["format"] = "bt-vit";
    m = ViT(ViTConfig::from_metadata(md));
    const Tensor* w = st.find("model");
    const Tensor* mm = st.find("adam.m");
    const Tensor* vv = st.find("adam.v");
    if (!w || !mm || !vv || w->numel() != m.num_params() || mm->numel() != m.num_params() || vv->numel() != m.num_params())
        die(path + ": checkpoint tensors missing or of the wrong size for " + m.config.describe());
    m.memory = w->data;
    opt.m = mm->data;
    opt.v = vv->data;
    if (dec && !dec->p.empty()) {
        const Tensor* dp = st.find("decoder.p");
        const Tensor* dm = st.find("decoder.m");
        const Tensor* dv = st.find("decoder.v");
        if (!dp || !dm || !dv || dp->numel() != dec->p.size())
            die(path + ": checkpoint has no reconstruction decoder of the expected size (was --recon used?)");
        dec->p = dp->data;
        dec->m = dm->data;
        dec->v = dv->data;
    }
    if (proj && !proj->p.empty()) {
        const Tensor* pp = st.find("projector.p");
        const Tensor* pm = st.find("projector.m");
        const Tensor* pv = st.find("projector.v");
        if (!pp || !pm || !pv || pp->numel() != proj->p.size())
            die(path + ": checkpoint has no projector of the expected size; resume with the same --contrastive setup");
        proj->p = pp->data;
        proj->m = pm->data;
        proj->v = pv->data;
    }
    step = to_size("step", md["step"]);
    epoch = to_size("epoch", md["epoch"]);
}

// A final model, or the model inside a checkpoint.
ViT load_model(const std::string& path) {
    const SafeTensors st = read_safetensors(path);
    auto f = st.metadata.find("format");
    if (f != st.metadata.end() && f->second == "bt-vit-checkpoint") {
        ViT m;
        AdamW opt;
        std::size_t step = 0, epoch = 0;
        load_checkpoint(path, m, opt, nullptr, nullptr, step, epoch);
        return m;
    }
    return vit_from_safetensors(st, path);
}

}  // namespace bt::pretrain
