// BioFVM (PhysiCell 1.14.2) diffusion on an n x n x n grid of F substrates: the anchor side of
// benchmarks/physicell.py. Same scheme as evniche's spatial Diffuser (backward-Euler LOD,
// Thomas algorithm, zero-flux edges, no decay); the same deterministic start on both sides.
//
//   biofvm_diffusion N FIELDS STEPS THREADS DX_UM D_UM2_PER_MIN DT_MIN OUT.bin
//
// Prints the wall seconds of STEPS steps (after one set-up step, not timed) and writes
// field 0 after the timed steps (x fastest, float64) to OUT.bin.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <omp.h>
#include <string>

#include "BioFVM.h"

using namespace BioFVM;

// the starting value of field f at voxel (i, j, k): the same formula as the Python side
static double start_value(int f, int i, int j, int k) {
  return 1.0 + std::sin(0.1 * i + 0.2 * j + 0.3 * k + f);
}

int main(int argc, char** argv) {
  if (argc != 9) {
    std::fprintf(stderr, "usage: %s N FIELDS STEPS THREADS DX_UM D_UM2_PER_MIN DT_MIN OUT.bin\n",
                 argv[0]);
    return 2;
  }
  const int n = std::atoi(argv[1]);
  const int fields = std::atoi(argv[2]);
  const int steps = std::atoi(argv[3]);
  const int threads = std::atoi(argv[4]);
  const double dx = std::atof(argv[5]);
  const double D = std::atof(argv[6]);
  const double dt = std::atof(argv[7]);
  omp_set_num_threads(threads);

  Microenvironment M;
  M.name = "benchmark";
  M.time_units = "min";
  M.spatial_units = "micron";
  M.mesh.units = "micron";
  M.set_density(0, "f0", "dimensionless");
  for (int f = 1; f < fields; ++f) M.add_density("f" + std::to_string(f), "dimensionless");
  M.resize_space(0.0, n * dx, 0.0, n * dx, 0.0, n * dx, dx, dx, dx);
  for (int f = 0; f < fields; ++f) {
    M.diffusion_coefficients[f] = D;
    M.decay_rates[f] = 0.0;
  }
  M.diffusion_decay_solver = diffusion_decay_solver__constant_coefficients_LOD_3D;
  for (int k = 0; k < n; ++k)
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < n; ++i) {
        std::vector<double>& v = M(M.voxel_index(i, j, k));
        for (int f = 0; f < fields; ++f) v[f] = start_value(f, i, j, k);
      }
  M.simulate_diffusion_decay(dt);  // sets the solver up (not timed)
  const double t0 = omp_get_wtime();
  for (int s = 0; s < steps; ++s) M.simulate_diffusion_decay(dt);
  const double wall = omp_get_wtime() - t0;
  std::printf("%.6f\n", wall);

  std::FILE* out = std::fopen(argv[8], "wb");
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", argv[8]);
    return 1;
  }
  for (int k = 0; k < n; ++k)
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < n; ++i) {
        const double value = M(M.voxel_index(i, j, k))[0];
        std::fwrite(&value, sizeof(double), 1, out);
      }
  std::fclose(out);
  return 0;
}
