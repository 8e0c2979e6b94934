// unshutter._native: per-pixel kernels of the Unshutter node (pybind11).
#include <pybind11/pybind11.h>

namespace py = pybind11;

PYBIND11_MODULE(_native, m) {
    m.doc() = "Unshutter native kernels (C++17, OpenMP)";
    m.attr("__version__") = "0.1.0";
}
