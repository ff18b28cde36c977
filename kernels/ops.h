// Every op of the engine, one include.
#pragma once
#include "kernels/elementwise/elementwise.h"
#include "kernels/reduce/reduce.h"
#include "tensor/autograd.h"
#include "tensor/generator.h"
#include "tensor/tensor.h"
