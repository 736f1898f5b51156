// oneDNN 3-D convolution timing on one layer shape: forward (with bias), backward-data and
// backward-weights (with the bias gradient), fp32, to compare with `vqa-mpi bench conv` (our
// im2col + OpenBLAS path) on the same shape and threads. Not part of the package: the evaluation
// tool of issue 20 (docs/performance.md has the figures and the decision).
//
//   g++ -O2 -o /tmp/onednn_conv3d scripts/bench/onednn_conv3d.cpp -ldnnl     (Debian: libdnnl-dev)
//   OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE /tmp/onednn_conv3d --input 4,24,4,56,56 --weight 48,24,3,3,3 \
//       --stride 1,2,2 --padding 1,1,1 [--reps 7] [--layout plain|any]
//
// --layout plain: every tensor in our layout (NCDHW activations, OIDHW weights), as the engine would
// hand them over; --layout any: oneDNN picks its own (blocked) layouts, and the reorders from and to
// ours are timed separately (reorder_ms: src + dst + diff_dst + diff_src, weights excluded since a
// whole network could keep those blocked). Prints one JSON line with the median milliseconds,
// GFLOP/s (2 × MACs per pass) and the implementation oneDNN chose for each pass.
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

static std::vector<long> ints(const char *s, size_t n, const char *name) {
    std::vector<long> v;
    for (const char *p = s; *p;) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < 0) break;
        v.push_back(x);
        p = *end == ',' ? end + 1 : end;
        if (*end != ',' && *end) { v.clear(); break; }
    }
    if (v.size() != n) {
        fprintf(stderr, "onednn_conv3d: --%s takes %zu non-negative integers separated by commas, got '%s'\n", name, n, s);
        exit(2);
    }
    return v;
}

static double median_ms(const std::function<void()> &fn, stream &s, int reps) {
    fn(); s.wait();
    std::vector<double> t;
    for (int r = 0; r < reps; r++) {
        auto t0 = std::chrono::steady_clock::now();
        fn(); s.wait();
        t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

static memory filled(const memory::desc &d, engine &e, std::mt19937 &rng) {
    memory m(d, e);
    float *p = static_cast<float *>(m.get_data_handle());
    std::uniform_real_distribution<float> u(-0.5f, 0.5f);
    for (size_t i = 0; i < d.get_size() / sizeof(float); i++) p[i] = u(rng);
    return m;
}

int main(int argc, char **argv) {
    const char *in = "4,24,4,56,56", *wt = "48,24,3,3,3", *st = "1,2,2", *pd = "1,1,1", *layout = "plain";
    int reps = 7;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (i + 1 >= argc) { fprintf(stderr, "onednn_conv3d: %s needs a value\n", argv[i]); return 2; }
        if (a == "--input") in = argv[++i];
        else if (a == "--weight") wt = argv[++i];
        else if (a == "--stride") st = argv[++i];
        else if (a == "--padding") pd = argv[++i];
        else if (a == "--reps") reps = atoi(argv[++i]);
        else if (a == "--layout") layout = argv[++i];
        else { fprintf(stderr, "onednn_conv3d: unknown option %s (valid: --input --weight --stride --padding --reps --layout)\n", argv[i]); return 2; }
    }
    bool any = std::string(layout) == "any";
    if (!any && std::string(layout) != "plain") { fprintf(stderr, "onednn_conv3d: --layout must be plain or any\n"); return 2; }
    auto x = ints(in, 5, "input"), w = ints(wt, 5, "weight"), s = ints(st, 3, "stride"), p = ints(pd, 3, "padding");
    memory::dims src{x[0], x[1], x[2], x[3], x[4]}, wei{w[0], w[1], w[2], w[3], w[4]}, bias{w[0]};
    memory::dims dst{x[0], w[0]}, strides{s[0], s[1], s[2]}, pad{p[0], p[1], p[2]};
    for (int d = 0; d < 3; d++) dst.push_back((x[2 + d] + 2 * p[d] - w[2 + d]) / s[d] + 1);

    engine eng(engine::kind::cpu, 0);
    stream strm(eng);
    std::mt19937 rng(1);
    auto user = [](const memory::dims &d, tag t) { return memory::desc(d, dt::f32, t); };
    auto md = [&](const memory::dims &d, tag t) { return memory::desc(d, dt::f32, any ? tag::any : t); };
    auto usrc = user(src, tag::ncdhw), uwei = user(wei, tag::oidhw), udst = user(dst, tag::ncdhw), ubias = user(bias, tag::x);

    auto fwd_pd = convolution_forward::primitive_desc(
        convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, md(src, tag::ncdhw),
                                  md(wei, tag::oidhw), ubias, md(dst, tag::ncdhw), strides, pad, pad), eng);
    auto bwd_d_pd = convolution_backward_data::primitive_desc(
        convolution_backward_data::desc(algorithm::convolution_direct, md(src, tag::ncdhw), md(wei, tag::oidhw),
                                        md(dst, tag::ncdhw), strides, pad, pad), eng, fwd_pd);
    auto bwd_w_pd = convolution_backward_weights::primitive_desc(
        convolution_backward_weights::desc(algorithm::convolution_direct, md(src, tag::ncdhw), md(wei, tag::oidhw),
                                           ubias, md(dst, tag::ncdhw), strides, pad, pad), eng, fwd_pd);

    memory m_src = filled(fwd_pd.src_desc(), eng, rng), m_wei = filled(fwd_pd.weights_desc(), eng, rng);
    memory m_bias = filled(ubias, eng, rng), m_dst(fwd_pd.dst_desc(), eng);
    memory m_ddst = filled(bwd_d_pd.diff_dst_desc(), eng, rng), m_dsrc(bwd_d_pd.diff_src_desc(), eng);
    memory m_wei_d = filled(bwd_d_pd.weights_desc(), eng, rng), m_src_w = filled(bwd_w_pd.src_desc(), eng, rng);
    memory m_ddst_w = filled(bwd_w_pd.diff_dst_desc(), eng, rng);
    memory m_dwei(bwd_w_pd.diff_weights_desc(), eng), m_dbias(ubias, eng);

    convolution_forward fwd(fwd_pd);
    convolution_backward_data bwd_d(bwd_d_pd);
    convolution_backward_weights bwd_w(bwd_w_pd);
    double f_ms = median_ms([&] { fwd.execute(strm, {{DNNL_ARG_SRC, m_src}, {DNNL_ARG_WEIGHTS, m_wei}, {DNNL_ARG_BIAS, m_bias}, {DNNL_ARG_DST, m_dst}}); }, strm, reps);
    double d_ms = median_ms([&] { bwd_d.execute(strm, {{DNNL_ARG_DIFF_DST, m_ddst}, {DNNL_ARG_WEIGHTS, m_wei_d}, {DNNL_ARG_DIFF_SRC, m_dsrc}}); }, strm, reps);
    double w_ms = median_ms([&] { bwd_w.execute(strm, {{DNNL_ARG_SRC, m_src_w}, {DNNL_ARG_DIFF_DST, m_ddst_w}, {DNNL_ARG_DIFF_WEIGHTS, m_dwei}, {DNNL_ARG_DIFF_BIAS, m_dbias}}); }, strm, reps);

    // Reorders between our layout and the chosen ones (zero when they coincide).
    double r_ms = 0;
    auto timed_reorder = [&](const memory::desc &from, const memory::desc &to) {
        if (from == to) return;
        memory a = filled(from, eng, rng), b(to, eng);
        reorder ro(a, b);
        r_ms += median_ms([&] { ro.execute(strm, a, b); }, strm, reps);
    };
    timed_reorder(usrc, fwd_pd.src_desc());
    timed_reorder(fwd_pd.dst_desc(), udst);
    timed_reorder(udst, bwd_d_pd.diff_dst_desc());
    timed_reorder(bwd_d_pd.diff_src_desc(), usrc);

    double macs = 1;
    for (auto d : dst) macs *= d;
    macs *= w[1] * w[2] * w[3] * w[4];
    double gf = 2 * macs / 1e9;
    const char *omp = getenv("OMP_NUM_THREADS");
    printf("{\"bench\": \"onednn_conv3d\", \"layout\": \"%s\", \"input\": [%ld, %ld, %ld, %ld, %ld], \"weight\": [%ld, %ld, %ld, %ld, %ld], "
           "\"stride\": [%ld, %ld, %ld], \"padding\": [%ld, %ld, %ld], \"forward_ms\": %.3f, \"backward_data_ms\": %.3f, "
           "\"backward_weights_ms\": %.3f, \"backward_ms\": %.3f, \"reorder_ms\": %.3f, \"forward_gflops\": %.2f, "
           "\"backward_data_gflops\": %.2f, \"backward_weights_gflops\": %.2f, \"impl_forward\": \"%s\", "
           "\"impl_backward_data\": \"%s\", \"impl_backward_weights\": \"%s\", \"omp_num_threads\": \"%s\", \"dnnl\": \"%d.%d.%d\"}\n",
           layout, x[0], x[1], x[2], x[3], x[4], w[0], w[1], w[2], w[3], w[4], s[0], s[1], s[2], p[0], p[1], p[2],
           f_ms, d_ms, w_ms, d_ms + w_ms, r_ms, gf / f_ms * 1e3, gf / d_ms * 1e3, gf / w_ms * 1e3,
           fwd_pd.impl_info_str(), bwd_d_pd.impl_info_str(), bwd_w_pd.impl_info_str(), omp ? omp : "unset",
           dnnl_version()->major, dnnl_version()->minor, dnnl_version()->patch);
    return 0;
}
