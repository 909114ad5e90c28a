/* CHECK(call): a wush CUDA API or CUDA runtime status that is not 0 ends the program with the call, the status and its name. */
#pragma once
#include <stdio.h>
#include <stdlib.h>

#include "wush_cuda.h"

#define CHECK(call)                                                                                             \
    do {                                                                                                        \
        int32_t status_ = (int32_t) (call);                                                                     \
        if (status_ != 0) {                                                                                     \
            fprintf(stderr, "FATAL %s:%d: %s -> %d (%s)\n", __FILE__, __LINE__, #call, status_,                 \
                    wush_cuda_error_string(status_));                                                           \
            exit(2);                                                                                            \
        }                                                                                                       \
    } while (0)
