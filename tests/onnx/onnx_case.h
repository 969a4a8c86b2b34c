/*
 * tests/onnx/onnx_case.h: loads one ONNX node conformance test (a directory of Debian's
 * libonnx-testdata such as data/node/test_relu) for the checks that compare our layers with
 * ONNX's expected outputs.
 *
 * A test directory holds model.onnx (one node, or a small graph for the *_expanded tests) and
 * test_data_set_N/{input_K.pb,output_K.pb}, each a serialized TensorProto. The loader decodes
 * the model and test_data_set_0 with pipeline/model/onnx_proto.c, matches input_K to the K-th
 * graph input that is not an initializer and output_K to the K-th graph output (names come from
 * the graph's ValueInfos, since pytorch-converted files leave the tensors unnamed), and
 * converts every tensor to float, keeping its dims (and its exact values for integer tensors,
 * such as shapes given as INT64).
 *
 * It does not run anything and does not compare anything: the checks do. Sequence, optional
 * and map values, and tensors without a float conversion (strings), are refused with
 * GRAFT_EUNSUPPORTED so that a check can report the case as skipped.
 *
 * The implementation is in check_onnx_case.c (named so that the Makefile's check_*.c
 * wildcard links it into both test binaries).
 */
#ifndef GRAFT_TESTS_ONNX_CASE_H
#define GRAFT_TESTS_ONNX_CASE_H

#include <stddef.h>
#include <stdint.h>

#include "../../pipeline/model/onnx_proto.h"

/* Where Debian's libonnx-testdata puts the data; $GRAFT_ONNX_TESTDATA overrides it. */
#define GRAFT_ONNX_CASE_ROOT_DEFAULT "/usr/share/libonnx-testdata/data"

/* One input or expected output of test_data_set_0. */
typedef struct graft_onnx_case_tensor {
    const char *name;     /* the graph input's or output's name */
    int32_t data_type;    /* graft_onnx_dtype of the stored tensor */
    const int64_t *dims;  /* (rank) */
    size_t rank;
    size_t numel;
    float *data;          /* (numel) the values as float; owned by the case */
    int64_t *ints;        /* (numel) exact values of integer and BOOL tensors, else NULL */
    const graft_onnx_tensor *proto; /* as decoded; lives in case->model */
} graft_onnx_case_tensor;

typedef struct graft_onnx_case {
    char *dir;                    /* the test directory as given */
    const char *name;             /* its last component: "test_relu" */
    graft_onnx_model *model;      /* owns the decoded model.onnx and the .pb tensors */
    const graft_onnx_graph *graph;
    const graft_onnx_node *node;  /* the graph's only node; NULL when it has several */
    int64_t opset;                /* opset version of the default domain; 0 when absent */
    graft_onnx_case_tensor *inputs;
    size_t input_count;
    graft_onnx_case_tensor *outputs;
    size_t output_count;
} graft_onnx_case;

/* The data root: $GRAFT_ONNX_TESTDATA when set and not empty, else the Debian path. */
const char *graft_onnx_case_root(void);

/*
 * Loads the test in directory `dir`. On success *out owns everything (free it with
 * graft_onnx_case_destroy()). On failure returns a GRAFT_E* code and writes a message naming
 * the file into msg: GRAFT_EIO for a missing model.onnx or .pb file, GRAFT_ECORRUPT and
 * GRAFT_ERANGE from the decoder, GRAFT_EUNSUPPORTED for non-tensor values or data types
 * without a float conversion, GRAFT_ENOMEM.
 */
int graft_onnx_case_load(const char *dir, graft_onnx_case **out, char *msg, size_t msglen);
/* Frees a case and everything it owns; NULL is a no-op. */
void graft_onnx_case_destroy(graft_onnx_case *c);

/*
 * The names of the subdirectories of `root` (e.g. "<root>/node") whose name starts with
 * `prefix` ("" for all), sorted with strcmp. *names is a malloc'd array of malloc'd strings
 * owned by the caller (free with graft_onnx_case_list_free()). GRAFT_EIO with a message when
 * root cannot be read, GRAFT_ENOMEM.
 */
int graft_onnx_case_list(const char *root, const char *prefix, char ***names, size_t *count,
                         char *msg, size_t msglen);
void graft_onnx_case_list_free(char **names, size_t count);

#endif
