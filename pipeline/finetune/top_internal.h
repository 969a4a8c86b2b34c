/*
 * pipeline/finetune/top_internal.h: what the trainable top (top.c) shares with its checkpoint
 * file format (checkpoint.c) and the fine-tuning run (pipeline/loop/finetune.c). Internal to
 * libgraft.
 */
#ifndef GRAFT_PIPELINE_FINETUNE_TOP_INTERNAL_H
#define GRAFT_PIPELINE_FINETUNE_TOP_INTERNAL_H

#include <stdint.h>

#include "graft/finetune.h"

/* The momentum buffer of parameter i (numel floats, zero before the first step); owned by t. */
float *graft__top_momentum(graft_top *t, int i);
/* SGD steps taken so far (0: the next step initialises the momentum buffers with g). */
uint64_t graft__top_steps(const graft_top *t);
void graft__top_set_steps(graft_top *t, uint64_t steps);
/*
 * State that is not a parameter but must survive a checkpoint for a run to resume bit for bit:
 * batch norm's running statistics under bn_train. State i is (*numel) floats owned by t.
 */
int graft__top_state_count(const graft_top *t);
float *graft__top_state(graft_top *t, int i, size_t *numel);

/* A text naming the top's structure (freeze point, features tensor, K, parameter names and
   shapes) that a checkpoint stores and compares on load; owned by t. */
const char *graft__top_signature(const graft_top *t);

#endif
