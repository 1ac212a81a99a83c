"""The reference side of `curation-bench kmeans`: Debian's python3-faiss (and numpy) on the same data files.

Written to the benchmark's temp folder and run as /usr/bin/python3 faiss_peer.py MODE ARGS...; the last line of its
output is `RESULT {json}`. Modes:
  probe                                        versions, the BLAS FAISS loaded, OpenBLAS's kernel, a 1-thread sgemm check
  threads THREADS                              FAISS's assignment search under each split of OpenMP / OpenBLAS threads
  kmeans DATA N D K NITER SEED THREADS INIT OUT  faiss.Kmeans(spherical) from the given initial centroids
  pairwise DATA N D TILE OUT_M OUT_TWIN         SemDeDup's M by tiled numpy products (rows in rank order)
"""
import ctypes
import glob
import json
import os
import resource
import sys
import time


def usage():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime, r.ru_maxrss  # seconds, KiB on Linux


def openblas():
    """OpenBLAS's own report (kernel, build) when it is loaded; None otherwise."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
    except OSError:
        return None, {}
    info = {}
    for name in ("openblas_get_corename", "openblas_get_config"):
        f = getattr(lib, name, None)
        if f is not None:
            f.restype = ctypes.c_char_p
            info[name[len("openblas_get_"):]] = f().decode()
    f = getattr(lib, "openblas_get_num_threads", None)
    if f is not None:
        info["threads"] = f()
    return lib, info


def blas_threads(lib, n):
    if lib is not None and getattr(lib, "openblas_set_num_threads", None) is not None:
        lib.openblas_set_num_threads(n)


def mapped_libraries():
    """The BLAS/LAPACK/OpenMP files mapped into this process: what really runs, whatever ldd said."""
    seen = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            name = os.path.basename(path)
            if path.startswith("/") and any(s in name for s in ("blas", "lapack", "gomp", "mkl", "blis")) and path not in seen:
                seen.append(path)
    return seen


def probe():
    import numpy as np
    import faiss
    lib, info = openblas()
    folder = os.path.dirname(faiss.__file__)
    swig = sorted(glob.glob(os.path.join(folder, "_swigfaiss*.so")))
    # A 1-thread sgemm the size of one FAISS assignment block (4096 queries x 1000 centroids x 384), checked in float64.
    rng = np.random.default_rng(7)
    a = rng.standard_normal((4096, 384), dtype=np.float32)
    b = rng.standard_normal((1000, 384), dtype=np.float32)
    reference = a.astype(np.float64) @ b.T.astype(np.float64)
    blas_threads(lib, 1)
    c = a @ b.T
    error = float(np.abs(c - reference).max() / np.abs(reference).max())
    best = float("inf")
    for _ in range(10):
        t = time.perf_counter()
        a @ b.T
        best = min(best, time.perf_counter() - t)
    return {
        "faiss": getattr(faiss, "__version__", "?"),
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "faiss_dir": folder,
        "swig": swig,
        "openblas": info,
        "mapped": mapped_libraries(),
        "sgemm_rel_error": error,
        "sgemm_gflops": 2 * 4096 * 1000 * 384 / best / 1e9,
    }


def thread_split(count):
    """FAISS runs two thread pools: OpenMP (its own loops) and OpenBLAS's pthreads (sgemm). Time the search that is ~95% of
    a k-means iteration (200k x 384 queries against 1000 centroids, k = 1) under each way of giving them `count` threads."""
    import numpy as np
    import faiss
    lib, info = openblas()
    rng = np.random.default_rng(11)
    x = rng.standard_normal((200000, 384), dtype=np.float32)
    c = rng.standard_normal((1000, 384), dtype=np.float32)
    index = faiss.IndexFlatIP(384)
    index.add(c)
    configs = [(count, count), (1, count), (count, 1)] if count > 1 else [(1, 1)]
    results = []
    for omp, blas in configs:
        faiss.omp_set_num_threads(omp)
        blas_threads(lib, blas)
        index.search(x[:20000], 1)
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            index.search(x, 1)
            best = min(best, time.perf_counter() - t)
        results.append({"omp": omp, "blas": blas, "gflops": 2 * 200000 * 1000 * 384 / best / 1e9})
    return {"configs": results, "openblas": info}


def kmeans(data, n, d, k, niter, seed, threads, init_path, out_path):
    import numpy as np
    import faiss
    lib, info = openblas()
    faiss.omp_set_num_threads(threads)
    t = time.perf_counter()
    x = np.fromfile(data, dtype=np.float32, count=n * d).reshape(n, d)
    init = np.fromfile(init_path, dtype=np.float32, count=k * d).reshape(k, d)
    load_seconds = time.perf_counter() - t
    # max_points_per_centroid defaults to 256: FAISS would train on a 256 k sample. ceil(n / k) keeps every vector.
    km = faiss.Kmeans(d, k, niter=niter, spherical=True, seed=seed, verbose=False,
                      max_points_per_centroid=-(-n // k), min_points_per_centroid=1)
    cpu0, _ = usage()
    t = time.perf_counter()
    km.train(x, init_centroids=init)
    seconds = time.perf_counter() - t
    cpu1, maxrss = usage()
    np.ascontiguousarray(km.centroids, dtype=np.float32).tofile(out_path)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu1 - cpu0,
        "load_seconds": load_seconds,
        "maxrss_kib": maxrss,
        "omp_threads": faiss.omp_get_max_threads(),
        "openblas": info,
        "iterations": [
            {"obj": s["obj"], "time": s["time"], "time_search": s["time_search"],
             "imbalance": s["imbalance_factor"], "nsplit": s["nsplit"]}
            for s in km.iteration_stats
        ],
    }


def pairwise(data, n, d, tile, out_m, out_twin):
    """M_j = max(0, max_{i<j} cos(x_i, x_j)) and its earliest arg, for rows already in rank order: NeMo's
    triu(S, 1).max(0), done in column blocks so the n x n matrix never exists (the block is the rows so far x tile)."""
    import numpy as np
    lib, info = openblas()
    blas_threads(lib, 1)
    x = np.fromfile(data, dtype=np.float32, count=n * d).reshape(n, d)
    m_all = np.zeros(n, dtype=np.float32)
    twin_all = np.full(n, -1, dtype=np.int32)
    lower = {}
    cpu0, _ = usage()
    t = time.perf_counter()
    for c0 in range(0, n, tile):
        c1 = min(n, c0 + tile)
        b = c1 - c0
        s = x[:c1] @ x[c0:c1].T              # ranks 0..c1-1 against ranks c0..c1-1
        if b not in lower:
            lower[b] = np.tril_indices(b)
        s[c0:c1][lower[b]] = -np.inf          # row rank >= column rank: not a pair
        arg = s.argmax(axis=0)                # first maximum: the earliest rank on ties
        m = s[arg, np.arange(b)]
        m_all[c0:c1] = np.maximum(m, 0)
        twin_all[c0:c1] = np.where(m > 0, arg, -1)
    seconds = time.perf_counter() - t
    cpu1, maxrss = usage()
    m_all.tofile(out_m)
    twin_all.tofile(out_twin)
    return {"seconds": seconds, "cpu_seconds": cpu1 - cpu0, "maxrss_kib": maxrss, "openblas": info}


def main(argv):
    mode = argv[1]
    if mode == "probe":
        result = probe()
    elif mode == "threads":
        result = thread_split(int(argv[2]))
    elif mode == "kmeans":
        data, n, d, k, niter, seed, threads, init_path, out_path = argv[2:11]
        result = kmeans(data, int(n), int(d), int(k), int(niter), int(seed), int(threads), init_path, out_path)
    elif mode == "pairwise":
        data, n, d, tile, out_m, out_twin = argv[2:8]
        result = pairwise(data, int(n), int(d), int(tile), out_m, out_twin)
    else:
        raise SystemExit("unknown mode " + mode)
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")


if __name__ == "__main__":
    main(sys.argv)
