// `mkldnn::_linear_pointwise`, which tch's generated C API does not reach: a oneDNN inner
// product on plain (dense) tensors, without the reorders that `to_mkldnn`, `mkldnn_linear`
// and `to_dense` cost around every product, with an activation applied as the results are
// written (oneDNN's post-ops). Called through the dispatcher, boxed, so the
// op's C++ signature is not compiled in here.

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/Tensor.h>
#include <ATen/core/ivalue.h>

#include <cstring>
#include <exception>
#include <optional>
#include <string>

namespace {

const c10::OperatorHandle* linear_pointwise() {
  static const std::optional<c10::OperatorHandle> handle =
      c10::Dispatcher::singleton().findSchema({"mkldnn::_linear_pointwise", ""});
  return handle ? &*handle : nullptr;
}

void write_error(const char* message, char* error, size_t error_len) {
  if (error_len == 0) return;
  std::strncpy(error, message, error_len - 1);
  error[error_len - 1] = '\0';
}

}  // namespace

extern "C" {

// Whether this libtorch has the op (built with oneDNN).
int gan_onednn_linear_available() { return linear_pointwise() != nullptr; }

// `input · weightᵀ + bias` (bias may be null), then the elementwise `post_op` that oneDNN
// applies as the product's results are written ("none", "relu", "leaky_relu" with
// `post_op_scalar` as its slope, "tanh", "sigmoid"), as a new tensor; or null with the reason
// in `error`. The tensor arguments are tch's (`at::Tensor*`).
void* gan_onednn_linear(const void* input, const void* weight, const void* bias,
                        const char* post_op, double post_op_scalar, char* error,
                        size_t error_len) {
  try {
    const c10::OperatorHandle* op = linear_pointwise();
    if (op == nullptr) {
      write_error("this libtorch has no mkldnn::_linear_pointwise", error, error_len);
      return nullptr;
    }
    std::vector<c10::IValue> stack;
    stack.reserve(6);
    stack.emplace_back(*static_cast<const at::Tensor*>(input));
    stack.emplace_back(*static_cast<const at::Tensor*>(weight));
    if (bias != nullptr) {
      stack.emplace_back(*static_cast<const at::Tensor*>(bias));
    } else {
      stack.emplace_back();
    }
    const std::string attr(post_op);
    c10::List<std::optional<at::Scalar>> scalars;
    if (attr == "leaky_relu") scalars.push_back(at::Scalar(post_op_scalar));
    stack.emplace_back(attr);
    stack.emplace_back(std::move(scalars));
    stack.emplace_back();
    op->callBoxed(&stack);
    return new at::Tensor(std::move(stack.at(0)).toTensor());
  } catch (const std::exception& e) {
    write_error(e.what(), error, error_len);
    return nullptr;
  }
}

}  // extern "C"
