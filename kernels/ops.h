// Every op of the engine, one include.
#pragma once
#include "kernels/conv/conv.h"
#include "kernels/elementwise/elementwise.h"
#include "kernels/index/index.h"
#include "kernels/linalg/linalg.h"
#include "kernels/norm/norm.h"
#include "kernels/pool/pool.h"
#include "kernels/reduce/reduce.h"
#include "kernels/sort/sort.h"
#include "tensor/autograd.h"
#include "tensor/generator.h"
#include "tensor/tensor.h"
