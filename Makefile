# graft: build, test, bench, install. `make` builds build/libgraft.{a,so} and build/graft.
# `make test` and `make demo` first install the Debian packages they need when missing.

BUILD   ?= build
PREFIX  ?= /usr/local
CROSS   ?=
CC      := $(CROSS)gcc
AR      := $(CROSS)ar
ARCH    := $(shell $(CC) -dumpmachine | cut -d- -f1)

CFLAGS_BASE := -std=gnu11 -O2 -g -fPIC -Wall -Wextra -Wshadow -Wno-unused-parameter \
               -Iinclude -Ikernels -pthread
CFLAGS  ?=
# The streaming side (libuv, libarchive, OpenSSL's SHA-256) is host-only: the aarch64 build
# under qemu checks the kernels, the runtime and the decoders, not the event loop.
LDLIBS_IO := -luv -larchive -lcrypto
LDLIBS  := -ljpeg -lspng -lwebp -lgif -lsleef -lm -pthread
ifeq ($(CROSS),)
  LDLIBS := $(LDLIBS_IO) $(LDLIBS)
endif
ifeq ($(SAN),1)
  BUILD := build-san
  CFLAGS_BASE += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  LDFLAGS += -fsanitize=address,undefined
endif
# A cross compiler does not search the Debian multiarch include directory, where the arm64
# libsleef-dev keeps sleef.h; -idirafter keeps the cross libc's own headers first.
ifneq ($(CROSS),)
  CFLAGS_BASE += -idirafter /usr/include/$(ARCH)-linux-gnu
  # jpeglib.h, spng.h and webp/ are architecture-independent and sit in /usr/include itself;
  # searched last, after the cross libc's own headers.
  CFLAGS_BASE += -idirafter /usr/include
endif
ALL_CFLAGS = $(CFLAGS_BASE) $(CFLAGS)

# Micro-kernels get their ISA's flags and nothing else does, so one binary runs on any CPU of
# the architecture and dispatches at run time.
ISA_FLAGS_avx2   := -O3 -mavx2 -mfma
ISA_FLAGS_avx512 := -O3 -mavx512f -mavx512vl -mavx512dq -mavx512bw -mfma
ISA_FLAGS_neon   := -O3

KERNEL_SRC := $(wildcard kernels/*.c)
ifeq ($(ARCH),x86_64)
  KERNEL_SRC := $(filter-out %_neon.c,$(KERNEL_SRC))
else
  KERNEL_SRC := $(filter-out %_avx2.c %_avx512.c,$(KERNEL_SRC))
endif
PIPE_SRC := $(filter-out pipeline/cli/%,$(wildcard pipeline/*/*.c))
# Stages built on libuv, libarchive and OpenSSL, with their checks: host builds only.
IO_DIRS  := read cache loop
ifneq ($(CROSS),)
  PIPE_SRC := $(filter-out $(IO_DIRS:%=pipeline/%/%),$(PIPE_SRC))
endif
LIB_SRC  := $(KERNEL_SRC) $(PIPE_SRC)
CLI_SRC  := $(wildcard pipeline/cli/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)

# Tests: the checks live in plain C (tests/**/check_*.c) so the aarch64 build can run them
# under qemu without Criterion; test_*.c are the Criterion suites around them.
CHECK_SRC := $(wildcard tests/check_*.c tests/*/check_*.c)
IO_CHECKS := $(IO_DIRS:%=tests/pipeline/check_%.c) tests/pipeline/check_finetune.c
ifneq ($(CROSS),)
  CHECK_SRC := $(filter-out $(IO_CHECKS),$(CHECK_SRC))
  CFLAGS_BASE += -DGRAFT_NO_IO_CHECKS
endif
CRIT_SRC  := $(wildcard tests/*/test_*.c)
CHECK_OBJ := $(CHECK_SRC:%.c=$(BUILD)/%.o)
CRIT_OBJ  := $(CRIT_SRC:%.c=$(BUILD)/%.o)

VERSION := $(shell sed -n 's/^\#define GRAFT_VERSION_STRING "\(.*\)"/\1/p' include/graft/graft.h)

.PHONY: all lib test test-neon demo demo-real bench bench-gemm bench-models bench-extract bench-stream install deps deps-test deps-bench deps-neon \
        clean check-san check-install
all: $(BUILD)/libgraft.a $(BUILD)/libgraft.so $(BUILD)/graft $(BUILD)/graft.pc

$(BUILD)/%.o: %.c $(wildcard include/graft/*.h) $(wildcard kernels/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -c $< -o $@

# Extra flags for pipeline/ objects alone (the fuzz build instruments only those).
PIPE_CFLAGS ?=
$(BUILD)/pipeline/%.o: ALL_CFLAGS += $(PIPE_CFLAGS)

$(BUILD)/kernels/%_avx2.o: kernels/%_avx2.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ISA_FLAGS_avx2) -MMD -c $< -o $@
$(BUILD)/kernels/%_avx512.o: kernels/%_avx512.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ISA_FLAGS_avx512) -MMD -c $< -o $@
$(BUILD)/kernels/%_neon.o: kernels/%_neon.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ISA_FLAGS_neon) -MMD -c $< -o $@

$(BUILD)/libgraft.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^
$(BUILD)/libgraft.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libgraft.so.0 $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/graft: $(CLI_OBJ) $(BUILD)/libgraft.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/graft.pc: graft.pc.in include/graft/graft.h
	@mkdir -p $(BUILD)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

# ---- Debian packages ----------------------------------------------------------------------
# Installed only when missing, and only as root; otherwise the missing names are printed.
# Qualified by architecture because dpkg -s refuses a bare name that is installed for two
# (test-neon adds libsleef-dev:arm64).
DEB_ARCH   := $(shell dpkg --print-architecture 2>/dev/null)
DEPS_BUILD := gcc make pkg-config libsleef-dev:$(DEB_ARCH) libjpeg62-turbo-dev:$(DEB_ARCH) \
              libspng-dev:$(DEB_ARCH) libwebp-dev:$(DEB_ARCH) libgif-dev:$(DEB_ARCH) \
              libuv1-dev:$(DEB_ARCH) libarchive-dev:$(DEB_ARCH) libssl-dev:$(DEB_ARCH)
DEPS_TEST  := libcriterion-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static \
              libonnx-testdata liblinear-tools python3-pil
DEPS_BENCH := libopenblas-dev libdnnl-dev
DEPS_NEON  := libsleef-dev:arm64 libc6:arm64 libjpeg62-turbo-dev:arm64 libspng-dev:arm64 \
              libwebp-dev:arm64 libgif-dev:arm64
define apt_ensure
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing:$$missing"; \
	    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing) \
	      >$(BUILD)/apt.log 2>&1 || { cat $(BUILD)/apt.log; exit 1; }; \
	  else echo "missing Debian packages:$$missing (run as root to install)"; exit 1; fi; fi
endef
deps:
	@mkdir -p $(BUILD)
	$(call apt_ensure,$(DEPS_BUILD))
deps-test: deps
	$(call apt_ensure,$(DEPS_TEST))
deps-bench: deps
	$(call apt_ensure,$(DEPS_BENCH))
# SLEEF for aarch64 comes from Debian's arm64 packages, which needs arm64 as a foreign
# architecture (added only as root; apt_ensure then updates the package lists).
deps-neon: deps-test
	@dpkg --print-foreign-architectures | grep -qx arm64 || [ "$$(id -u)" != 0 ] || \
	  dpkg --add-architecture arm64
	$(call apt_ensure,$(DEPS_NEON))

# ---- tests --------------------------------------------------------------------------------
$(CRIT_OBJ): ALL_CFLAGS += -DGRAFT_BUILD_DIR='"$(BUILD)"'
$(BUILD)/tests/run_tests: $(CRIT_OBJ) $(CHECK_OBJ) $(BUILD)/libgraft.a
	$(CC) $(LDFLAGS) -o $@ $^ -lcriterion $(LDLIBS)

test: deps-test models finetune-fixtures
	$(MAKE) --no-print-directory all $(BUILD)/tests/run_tests
	$(BUILD)/tests/run_tests $(TEST_ARGS)

# The torchvision networks tests/models/check_models.c runs (and bench-models times): seeded
# random weights exported to ONNX at opsets 13 and 17 with PyTorch's reference outputs, written
# to $(BUILD)/models (or GRAFT_MODELS_DIR; about 2.4 GB, never committed). Incremental: a model
# is regenerated only when the script changed. MODELS=resnet18,mobilenet_v2 makes a subset.
DEPS_MODELS := python3-torch python3-torchvision python3-onnx python3-numpy
.PHONY: models
models: deps
	$(call apt_ensure,$(DEPS_MODELS))
	/usr/bin/python3 tests/models/gen_torchvision.py "$${GRAFT_MODELS_DIR:-$(BUILD)/models}" \
	  $(if $(MODELS),--models $(MODELS))
$(BUILD)/tests/models/check_models.o $(BUILD)/tests/pipeline/check_loop.o \
  $(BUILD)/tests/pipeline/check_finetune.o: \
  ALL_CFLAGS += -DGRAFT_BUILD_DIR='"$(BUILD)"'
# PyTorch autograd references for the trainable top (tests/finetune/check_torch_grads.c):
# small seeded networks as ONNX with their float64 logits, loss and gradients, written to
# $(BUILD)/finetune (or GRAFT_FINETUNE_DIR). Incremental like `models`; a second or so.
.PHONY: finetune-fixtures
finetune-fixtures: deps
	$(call apt_ensure,$(DEPS_MODELS))
	/usr/bin/python3 tests/finetune/gen_grads.py "$${GRAFT_FINETUNE_DIR:-$(BUILD)/finetune}"
$(BUILD)/tests/finetune/check_torch_grads.o: ALL_CFLAGS += -DGRAFT_BUILD_DIR='"$(BUILD)"'

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
check-san: deps-test
	$(MAKE) --no-print-directory SAN=1 all build-san/tests/run_tests
	ASAN_OPTIONS=detect_leaks=1 build-san/tests/run_tests $(TEST_ARGS)

# NEON: the library and the plain-C checks cross-compiled for aarch64, run under qemu-user.
# Linked dynamically because Debian ships SLEEF as a shared library only. It runs on the
# arm64 multiarch loader, libc and libsleef that libsleef-dev:arm64 installs under /lib and
# /usr/lib/aarch64-linux-gnu, found by qemu at their usual paths. (Not `qemu -L` with the cross
# toolchain's libc: under qemu 7.2 that hangs in the first pthread_create.)
test-neon: deps-neon
	$(MAKE) --no-print-directory CROSS=aarch64-linux-gnu- BUILD=build-aarch64 \
	  build-aarch64/tests/run_checks
	qemu-aarch64-static build-aarch64/tests/run_checks
$(BUILD)/tests/run_checks: tests/run_checks.c $(CHECK_OBJ) $(BUILD)/libgraft.a
	$(CC) $(ALL_CFLAGS) -Itests $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- demo, bench, install -----------------------------------------------------------------
# The main job offline on generated data. `graft demo-data --target` writes a tar of textures in
# class folders (with a truncated JPEG and a README that get rejected), a second task of five
# new classes drawn with the same strokes and only 25 training images each (target.tar), and a
# small ConvNet as ONNX. On the textures: extract the codes, look at the cache, train a softmax
# head with a sweep of C judged on val, evaluate it, and export the network up to the tap plus
# the head as one ONNX classifier. Then transfer learning: pretrain the ConvNet on the textures
# from scratch (--reinit; the re-initialised layers take the full learning rate), and on the
# target task compare a linear head on the pretrained net's codes, fine-tuning the pretrained
# net (its layers at a tenth of the new classifier's rate), and the same net trained from
# scratch for as many epochs (at twice the rate, which suits it better). The table at the end
# reads the three val accuracies from their logs.
DEMO := $(BUILD)/demo
DEMO_INPUT := --size 64 --resize 0
DEMO_FROM_SCRATCH := --freeze-until - --reinit
# Runs $(2) with its output kept in $(DEMO)/$(1).log for the table, shows it, keeps its status.
demo_logged = $(2) > $(DEMO)/$(1).log; s=$$?; cat $(DEMO)/$(1).log; exit $$s
demo: deps
	$(MAKE) --no-print-directory all
	$(BUILD)/graft demo-data --target $(DEMO)
	rm -rf $(DEMO)/cache $(DEMO)/target-codes $(DEMO)/*.cache $(DEMO)/*.ckpt $(DEMO)/*.log
	$(BUILD)/graft extract -m $(DEMO)/demo.onnx $(DEMO_INPUT) -c $(DEMO)/cache $(DEMO)/textures.tar
	$(BUILD)/graft cache stat $(DEMO)/cache
	$(BUILD)/graft train -c $(DEMO)/cache -o $(DEMO)/head.bin --C 0.01,0.1,1,10
	$(BUILD)/graft eval -c $(DEMO)/cache -o $(DEMO)/head.bin
	$(BUILD)/graft export $(DEMO)/demo.onnx $(DEMO)/head.bin $(DEMO)/classifier.onnx
	$(BUILD)/graft finetune $(DEMO)/demo.onnx $(DEMO)/textures.tar $(DEMO_FROM_SCRATCH) \
	  --lr 0.05 --epochs 4 $(DEMO_INPUT) --out $(DEMO)/pretrained.onnx
	$(BUILD)/graft extract -m $(DEMO)/pretrained.onnx $(DEMO_INPUT) -q -c $(DEMO)/target-codes \
	  $(DEMO)/target.tar
	$(BUILD)/graft train -c $(DEMO)/target-codes -o $(DEMO)/target-head.bin --C 0.01,0.1,1,10
	$(call demo_logged,linear,$(BUILD)/graft eval -c $(DEMO)/target-codes -o $(DEMO)/target-head.bin)
	$(call demo_logged,finetuned,$(BUILD)/graft finetune $(DEMO)/pretrained.onnx \
	  $(DEMO)/target.tar --lr 0.1 --epochs 30 $(DEMO_INPUT) --out $(DEMO)/finetuned.onnx)
	$(call demo_logged,scratch,$(BUILD)/graft finetune $(DEMO)/demo.onnx $(DEMO)/target.tar \
	  $(DEMO_FROM_SCRATCH) --lr 0.2 --epochs 30 $(DEMO_INPUT) --out $(DEMO)/scratch.onnx)
	@cd $(DEMO) && { sed -n 's/^rows .*  accuracy \([0-9.]*\)%.*/linear \1/p' linear.log; \
	  for m in finetuned scratch; do \
	    sed -n "s/.*best epoch .* (val accuracy \([0-9.]*\)).*/$$m \1/p" $$m.log; done; } | \
	  awk '{ v[$$1] = $$1 == "linear" ? $$2 : 100 * $$2; n++ } \
	    END { if (n != 3) { print "demo: a val accuracy is missing from the logs"; exit 1 } \
	      print "\ntarget task (5 classes, 25 training images each), val accuracy:"; \
	      printf "  linear head on the pretrained codes   %6.2f%%\n", v["linear"]; \
	      printf "  fine-tuning the pretrained net        %6.2f%%\n", v["finetuned"]; \
	      printf "  the same net from scratch             %6.2f%%\n", v["scratch"] }'
# The same on ../shared (GRAFT_SHARED): hymenoptera.tar (ants vs bees) through the pretrained
# MobileNet V1 embedding (whole image stretched to 224x224, (v - 128) / 128 as its README says),
# then MobileNet V2: linear head on its codes, and fine-tuning started from that head.
demo-real: deps
	$(MAKE) --no-print-directory all
	rm -rf $(DEMO)/hymenoptera
	$(BUILD)/graft extract -m $(SHARED)/models/mobilenet_v1_1.0_224_embedding.onnx \
	  --preset stretch -c $(DEMO)/hymenoptera $(SHARED)/data/hymenoptera.tar
	$(BUILD)/graft train -c $(DEMO)/hymenoptera -o $(DEMO)/hymenoptera.head \
	  --C 0.001,0.01,0.1,1,10
	$(BUILD)/graft eval -c $(DEMO)/hymenoptera -o $(DEMO)/hymenoptera.head
	@# Then the pretrained MobileNet V2: a linear head on its codes, and fine-tuning its last two
	@# blocks, Conv_1 and a classifier started from that head, which beats it on val.
	rm -rf $(DEMO)/hymenoptera-v2 $(DEMO)/hymenoptera-v2-ft.*
	$(BUILD)/graft extract -m $(SHARED)/models/mobilenet_v2_1.0_224.onnx --preset stretch -q \
	  -c $(DEMO)/hymenoptera-v2 $(SHARED)/data/hymenoptera.tar
	$(BUILD)/graft train -c $(DEMO)/hymenoptera-v2 -o $(DEMO)/hymenoptera-v2.head \
	  --C 0.001,0.01,0.1,1,10
	$(BUILD)/graft finetune $(SHARED)/models/mobilenet_v2_1.0_224.onnx \
	  $(SHARED)/data/hymenoptera.tar --preset stretch --head $(DEMO)/hymenoptera-v2.head \
	  --lr 0.002 --out $(DEMO)/hymenoptera-v2-ft.onnx

$(BUILD)/bench/bench_gemm: bench/bench_gemm.c bench/bench_common.c $(BUILD)/libgraft.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O3 -o $@ $^ -lopenblas $(LDLIBS)
bench-gemm: deps-bench
	$(MAKE) --no-print-directory all $(BUILD)/bench/bench_gemm
	BUILD=$(BUILD) bash bench/run.sh gemm
# oneDNN (Debian's build uses OpenMP) is the convolution reference; -fopenmp only for the bench.
$(BUILD)/bench/bench_conv: bench/bench_conv.c bench/bench_common.c $(BUILD)/libgraft.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O3 -fopenmp -o $@ $^ -ldnnl $(LDLIBS)
bench-conv: deps-bench
	$(MAKE) --no-print-directory all $(BUILD)/bench/bench_conv
	BUILD=$(BUILD) bash bench/run.sh conv
# The decode stage on one core (graft_transform_apply, imagenet preset) against Pillow +
# torchvision's transforms (bench/pipeline_pil.py under Debian's python3) on the hymenoptera
# photos of ../shared: images/s and the ratio. BENCH_QUICK=1 makes fewer passes.
$(BUILD)/bench/bench_pipeline: bench/bench_pipeline.c bench/bench_common.c $(BUILD)/libgraft.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O3 -o $@ $^ $(LDLIBS)
.PHONY: bench-pipeline
bench-pipeline: deps
	$(call apt_ensure,python3-torchvision python3-pil python3-numpy)
	$(MAKE) --no-print-directory all $(BUILD)/bench/bench_pipeline
	$(BUILD)/bench/bench_pipeline $(if $(filter-out 0,$(BENCH_QUICK)),--quick)
# Whole networks against ONNX Runtime 1.20 (npm's onnxruntime-node, installed into
# $(BUILD)/node_modules) and PyTorch 1.13 (Debian), each in its own process: images/s and peak
# RSS. The five networks come from `make models`. BENCH_QUICK=1 runs one short round.
BENCH_MODELS := mobilenet_v2,resnet18,resnet50,squeezenet1_1,alexnet
ORT_NODE_VERSION := 1.20
$(BUILD)/bench/bench_models: bench/bench_models.c bench/bench_common.c $(BUILD)/libgraft.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O3 -DGRAFT_BUILD_DIR='"$(BUILD)"' -o $@ $^ $(LDLIBS)
bench-models: deps
	$(call apt_ensure,$(DEPS_MODELS) nodejs)
	@command -v npm >/dev/null || { echo "bench-models: npm is missing (apt-get install npm)"; \
	  exit 1; }
	$(MAKE) --no-print-directory models MODELS=$(BENCH_MODELS)
	@node -p "require('./$(BUILD)/node_modules/onnxruntime-node/package.json').version" 2>/dev/null | \
	  grep -q '^$(subst .,\.,$(ORT_NODE_VERSION))\.' || \
	  ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm install --prefix $(BUILD) --no-audit --no-fund \
	    onnxruntime-node@~$(ORT_NODE_VERSION).0
	$(MAKE) --no-print-directory all $(BUILD)/bench/bench_models
	BUILD=$(BUILD) NODE_PATH=$(abspath $(BUILD))/node_modules bash bench/run.sh models \
	  --models $(BENCH_MODELS)
# End-to-end extract against forward-only throughput on hymenoptera.tar with the shared
# MobileNet V1 embedding model (GRAFT_SHARED, default ../shared), 1 and 2 threads.
SHARED ?= $(or $(GRAFT_SHARED),../shared)
$(BUILD)/bench/bench_extract: bench/bench_extract.c bench/bench_common.c $(BUILD)/libgraft.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O3 -o $@ $^ $(LDLIBS)
bench-extract: deps
	$(MAKE) --no-print-directory all $(BUILD)/bench/bench_extract
	$(BUILD)/bench/bench_extract $(SHARED)/models/mobilenet_v1_1.0_224_embedding.onnx \
	  $(SHARED)/data/hymenoptera.tar --preset stretch --size 224 $(if $(BENCH_QUICK),--quick) \
	  | tee $(BUILD)/bench/extract.jsonl
# Peak RSS while STREAM_BYTES (default 20 GB) of synthetic WebDataset tar stream through a pipe
# into `graft extract -` (the demo ConvNet at 64x64 with DCT-domain downscaling).
STREAM_BYTES ?= 20e9
$(BUILD)/bench/gen_stream: bench/gen_stream.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O2 -o $@ $< -larchive -ljpeg
bench-stream: deps
	$(call apt_ensure,time)
	$(MAKE) --no-print-directory all $(BUILD)/bench/gen_stream
	$(BUILD)/graft demo-data -n 1 $(BUILD)/bench/stream >/dev/null
	rm -rf $(BUILD)/bench/stream/cache
	$(BUILD)/bench/gen_stream $(STREAM_BYTES) | /usr/bin/time -f '%M' -o $(BUILD)/bench/stream.rss \
	  $(BUILD)/graft extract -m $(BUILD)/bench/stream/demo.onnx --size 64 --dct-scaling -q \
	  -c $(BUILD)/bench/stream/cache -
	@echo "{\"bench\":\"stream\",\"bytes\":$(STREAM_BYTES),\"peak_rss_mb\":$$(( $$(cat $(BUILD)/bench/stream.rss) / 1024 ))}" \
	  | tee $(BUILD)/bench/stream.jsonl
# The learners (pipeline/train) on the hymenoptera codes of the shared MobileNet V1 embedding
# model against liblinear-train (liblinear-tools) and scikit-learn (python3-sklearn, Debian's
# /usr/bin/python3), in one run: accuracy with defaults and with the C sweep, time to
# LIBLINEAR's accuracy. The codes are made once into $(BUILD)/hymenoptera by bench/train_codes.
# BENCH_REPS=N sets the repetitions (default 7); GRAFT_THREADS is honoured.
.PHONY: bench-train
$(BUILD)/bench/train_codes: bench/train_codes.c $(BUILD)/libgraft.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/bench/bench_train: bench/bench_train.c bench/bench_common.c $(BUILD)/libgraft.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O3 -o $@ $^ $(LDLIBS)
$(BUILD)/hymenoptera/train_X.npy: $(BUILD)/bench/train_codes
	$(BUILD)/bench/train_codes $(SHARED)/data/hymenoptera.tar \
	  $(SHARED)/models/mobilenet_v1_1.0_224_embedding.onnx $(BUILD)/hymenoptera
bench-train: deps
	$(call apt_ensure,liblinear-tools python3-sklearn)
	$(MAKE) --no-print-directory $(BUILD)/bench/bench_train $(BUILD)/hymenoptera/train_X.npy
	$(BUILD)/bench/bench_train $(BUILD)/hymenoptera --reps $(or $(BENCH_REPS),7) \
	  | tee $(BUILD)/bench/train.jsonl
# Fine-tuning the top of mobilenet_v2 (features.16 on, new 10-class classifier, SGD momentum
# 0.9, batch 32, 1 and 2 threads): training images/s of graft against PyTorch 1.13, which
# bench/torch_finetune.py runs in its own process. BENCH_QUICK=1 makes one step per side.
.PHONY: bench-finetune
$(BUILD)/bench/bench_finetune: bench/bench_finetune.c bench/bench_common.c $(BUILD)/libgraft.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O3 -DGRAFT_BUILD_DIR='"$(BUILD)"' -o $@ $^ $(LDLIBS)
bench-finetune: deps
	$(call apt_ensure,$(DEPS_MODELS))
	$(MAKE) --no-print-directory models MODELS=mobilenet_v2
	$(MAKE) --no-print-directory all $(BUILD)/bench/bench_finetune
	$(BUILD)/bench/bench_finetune $(if $(filter-out 0,$(BENCH_QUICK)),--quick) \
	  | tee $(BUILD)/bench/finetune.jsonl
bench: bench-gemm bench-conv bench-pipeline bench-extract bench-train bench-finetune

install: all
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/graft \
	  $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(BUILD)/libgraft.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libgraft.so $(DESTDIR)$(PREFIX)/lib/libgraft.so.0
	ln -sf libgraft.so.0 $(DESTDIR)$(PREFIX)/lib/libgraft.so
	install -m 644 include/graft/*.h $(DESTDIR)$(PREFIX)/include/graft/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' graft.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/graft.pc
	install -m 755 $(BUILD)/graft $(DESTDIR)$(PREFIX)/bin/

# Installs into a scratch prefix and builds a consumer through pkg-config, against the shared
# library and against libgraft.a (Debian's SLEEF is shared-only, so not a fully static binary).
check-install:
	rm -rf $(BUILD)/stage
	$(MAKE) --no-print-directory install PREFIX=$(CURDIR)/$(BUILD)/stage
	PKG_CONFIG_PATH=$(BUILD)/stage/lib/pkgconfig $(CC) tests/install/consumer.c \
	  $$(PKG_CONFIG_PATH=$(BUILD)/stage/lib/pkgconfig pkg-config --cflags --libs graft) \
	  -o $(BUILD)/stage/consumer
	LD_LIBRARY_PATH=$(BUILD)/stage/lib $(BUILD)/stage/consumer
	$(CC) tests/install/consumer.c \
	  $$(PKG_CONFIG_PATH=$(BUILD)/stage/lib/pkgconfig pkg-config --cflags graft) \
	  $(BUILD)/stage/lib/libgraft.a \
	  $$(PKG_CONFIG_PATH=$(BUILD)/stage/lib/pkgconfig pkg-config --libs-only-other --static graft) \
	  $$(PKG_CONFIG_PATH=$(BUILD)/stage/lib/pkgconfig pkg-config --libs --static graft | \
	     sed 's/-lgraft//; s/-L[^ ]*//') \
	  -o $(BUILD)/stage/consumer-static
	$(BUILD)/stage/consumer-static

clean:
	rm -rf build build-san build-aarch64

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- fuzzing ------------------------------------------------------------------------------
# libFuzzer on the ONNX decoder and the protobuf reader under it (tests/fuzz/fuzz_onnx.c), with
# ASan and UBSan. The seed corpus is libonnx-testdata's node and pytorch-converted models and
# tensors under 64 KiB, copied into $(BUILD)/fuzz/corpus, which also keeps what the fuzzer
# finds. `make fuzz FUZZ_SECONDS=600` runs longer; a crashing input is saved in $(BUILD)/fuzz/.
DEPS_FUZZ    := clang libclang-rt-14-dev
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 30
FUZZ_DATA    ?= /usr/share/libonnx-testdata/data
FUZZ_SRC     := tests/fuzz/fuzz_onnx.c pipeline/model/protobuf.c pipeline/model/onnx_proto.c \
                kernels/core.c
.PHONY: fuzz
$(BUILD)/fuzz/fuzz_onnx: $(FUZZ_SRC) $(wildcard pipeline/model/*.h include/graft/*.h kernels/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=gnu11 -g -O1 -Wall -Wextra -Wshadow -Wno-unused-parameter -Iinclude \
	  -Ikernels -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ $(FUZZ_SRC)
fuzz: deps
	$(call apt_ensure,$(DEPS_FUZZ))
	$(MAKE) --no-print-directory $(BUILD)/fuzz/fuzz_onnx
	@mkdir -p $(BUILD)/fuzz/corpus
	@# Seeded once: later runs start from the corpus the fuzzer grew. The files keep their
	@# relative paths (libFuzzer reads the corpus directory recursively), copied in batches.
	@if [ -n "$$(ls -A $(BUILD)/fuzz/corpus)" ]; then :; \
	elif [ -d $(FUZZ_DATA)/node ]; then \
	  for sub in node pytorch-converted; do \
	    [ -d $(FUZZ_DATA)/$$sub ] || continue; \
	    mkdir -p $(BUILD)/fuzz/corpus/$$sub; \
	    (cd $(FUZZ_DATA)/$$sub && find . -type f -size -64k \( -name model.onnx -o \
	      -path '*/test_data_set_0/*.pb' \) -print0 | \
	      xargs -0 cp --parents -t $(abspath $(BUILD))/fuzz/corpus/$$sub); \
	  done; \
	else echo "fuzz: $(FUZZ_DATA)/node is absent: starting from an empty corpus"; fi
	$(BUILD)/fuzz/fuzz_onnx -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
	  -artifact_prefix=$(BUILD)/fuzz/ $(BUILD)/fuzz/corpus
	$(MAKE) --no-print-directory fuzz-tflite
	$(MAKE) --no-print-directory fuzz-image
	$(MAKE) --no-print-directory fuzz-model
	$(MAKE) --no-print-directory fuzz-archive
	$(MAKE) --no-print-directory fuzz-cache
	$(MAKE) --no-print-directory fuzz-checkpoint

# libFuzzer on the TFLite importer and the flatbuffer reader under it, metadata and appended
# zip included (tests/fuzz/fuzz_tflite.c); `make fuzz` runs it after the ONNX target. Seeds:
# the sample models of tests/model/tflite_build.h, written by the fuzzer itself into an empty
# $(BUILD)/fuzz/tflite_corpus. Crashing inputs are saved as $(BUILD)/fuzz/tflite-*.
FUZZ_TFLITE_SRC := tests/fuzz/fuzz_tflite.c pipeline/model/tflite_import.c \
                   pipeline/model/tflite_fb.c pipeline/model/graph.c kernels/core.c
.PHONY: fuzz-tflite
$(BUILD)/fuzz/fuzz_tflite: $(FUZZ_TFLITE_SRC) tests/model/tflite_build.h \
                           $(wildcard pipeline/model/*.h include/graft/*.h kernels/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=gnu11 -g -O1 -Wall -Wextra -Wshadow -Wno-unused-parameter -Iinclude \
	  -Ikernels -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ \
	  $(FUZZ_TFLITE_SRC) -lm
fuzz-tflite: deps
	$(call apt_ensure,$(DEPS_FUZZ))
	$(MAKE) --no-print-directory $(BUILD)/fuzz/fuzz_tflite
	@mkdir -p $(BUILD)/fuzz/tflite_corpus
	@[ -n "$$(ls -A $(BUILD)/fuzz/tflite_corpus)" ] || \
	  GRAFT_FUZZ_WRITE_SEEDS=$(BUILD)/fuzz/tflite_corpus $(BUILD)/fuzz/fuzz_tflite
	$(BUILD)/fuzz/fuzz_tflite -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	  -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/tflite- $(BUILD)/fuzz/tflite_corpus

# libFuzzer on the image decoders, resize/crop/to_float and the .npy parser
# (tests/fuzz/fuzz_image.c). Seeds: small images of every format and variant written by
# tests/fuzz/image_seeds.py (needs Debian's python3 with PIL; without it the corpus starts
# empty). `make fuzz-image FUZZ_SECONDS=600`; crashing inputs are saved as $(BUILD)/fuzz/image-*.
# The kernels (resize micro-kernels, ISA dispatch) come uninstrumented from libgraft.a.
FUZZ_IMAGE_SRC := tests/fuzz/fuzz_image.c $(wildcard pipeline/decode/*.c) pipeline/io/npy.c
.PHONY: fuzz-image
$(BUILD)/fuzz/fuzz_image: $(FUZZ_IMAGE_SRC) $(BUILD)/libgraft.a \
                          $(wildcard pipeline/decode/*.h include/graft/*.h kernels/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=gnu11 -g -O1 -Wall -Wextra -Wshadow -Wno-unused-parameter -Iinclude \
	  -Ikernels -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ \
	  $(FUZZ_IMAGE_SRC) $(BUILD)/libgraft.a $(LDLIBS)
fuzz-image: deps
	$(call apt_ensure,$(DEPS_FUZZ))
	$(MAKE) --no-print-directory $(BUILD)/fuzz/fuzz_image
	@mkdir -p $(BUILD)/fuzz/image_corpus
	@[ -n "$$(ls -A $(BUILD)/fuzz/image_corpus)" ] || \
	  /usr/bin/python3 tests/fuzz/image_seeds.py $(BUILD)/fuzz/image_corpus || \
	  echo "fuzz-image: no seeds (python3 with PIL missing): starting from an empty corpus"
	$(BUILD)/fuzz/fuzz_image -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	  -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/image- $(BUILD)/fuzz/image_corpus

# libFuzzer on the read stage (tests/fuzz/fuzz_archive.c): every input is one shard, read
# from a file (seekable) or streamed through a pipe on standard input, and drained through the
# WebDataset grouping; the label parsers and the brace expander see the bytes too. Seeds: small
# archives of every kind the reader takes (ustar, pax, gnutar, zip; gzip, bzip2, xz, zstd),
# written by the target itself into an empty $(BUILD)/fuzz/archive_corpus. Crashing inputs are
# saved as $(BUILD)/fuzz/archive-*. libarchive, OpenSSL and the image sniffer come
# uninstrumented from the system and libgraft.a.
FUZZ_ARCHIVE_SRC := tests/fuzz/fuzz_archive.c $(wildcard pipeline/read/*.c)
.PHONY: fuzz-archive
$(BUILD)/fuzz/fuzz_archive: $(FUZZ_ARCHIVE_SRC) $(BUILD)/libgraft.a \
                            $(wildcard pipeline/read/*.h include/graft/*.h kernels/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=gnu11 -g -O1 -Wall -Wextra -Wshadow -Wno-unused-parameter -Iinclude \
	  -Ikernels -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ \
	  $(FUZZ_ARCHIVE_SRC) $(BUILD)/libgraft.a $(LDLIBS)
fuzz-archive: deps
	$(call apt_ensure,$(DEPS_FUZZ))
	$(MAKE) --no-print-directory $(BUILD)/fuzz/fuzz_archive
	@mkdir -p $(BUILD)/fuzz/archive_corpus
	@[ -n "$$(ls -A $(BUILD)/fuzz/archive_corpus)" ] || \
	  GRAFT_FUZZ_WRITE_SEEDS=$(BUILD)/fuzz/archive_corpus $(BUILD)/fuzz/fuzz_archive
	$(BUILD)/fuzz/fuzz_archive -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	  -max_len=65536 -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/archive- \
	  $(BUILD)/fuzz/archive_corpus

# libFuzzer on the feature cache's parsers (tests/fuzz/fuzz_cache.c): manifest.json, the
# segment indexes and the .npy headers the view maps. The first byte picks the parser.
FUZZ_CACHE_SRC := tests/fuzz/fuzz_cache.c pipeline/cache/manifest.c pipeline/cache/layout.c \
                  pipeline/cache/keyset.c pipeline/io/npy.c kernels/core.c
.PHONY: fuzz-cache
$(BUILD)/fuzz/fuzz_cache: $(FUZZ_CACHE_SRC) $(wildcard pipeline/cache/*.h include/graft/*.h \
                          kernels/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=gnu11 -g -O1 -Wall -Wextra -Wshadow -Wno-unused-parameter -Iinclude \
	  -Ikernels -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ \
	  $(FUZZ_CACHE_SRC) -lm -pthread
fuzz-cache: deps
	$(call apt_ensure,$(DEPS_FUZZ))
	$(MAKE) --no-print-directory $(BUILD)/fuzz/fuzz_cache
	@mkdir -p $(BUILD)/fuzz/cache_corpus
	$(BUILD)/fuzz/fuzz_cache -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	  -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/cache- $(BUILD)/fuzz/cache_corpus

# libFuzzer on the fine-tuning checkpoint reader (tests/fuzz/fuzz_checkpoint.c), a file users
# point --resume at. Linked against the instrumented library of fuzz-model; seeded with a valid
# checkpoint the target writes itself into an empty $(BUILD)/fuzz/checkpoint_corpus.
.PHONY: fuzz-checkpoint
$(BUILD)/fuzz/fuzz_checkpoint: tests/fuzz/fuzz_checkpoint.c $(BUILD)/fuzz/fuzz_model
	$(FUZZ_CC) -std=gnu11 -g -O1 -Wall -Wextra -Wno-unused-parameter -Iinclude -Ikernels \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ $< \
	  $(BUILD)/fuzz/lib/libgraft.a $(LDLIBS)
fuzz-checkpoint: deps
	$(call apt_ensure,$(DEPS_FUZZ))
	$(MAKE) --no-print-directory $(BUILD)/fuzz/fuzz_checkpoint
	@mkdir -p $(BUILD)/fuzz/checkpoint_corpus
	@[ -n "$$(ls -A $(BUILD)/fuzz/checkpoint_corpus)" ] || \
	  GRAFT_FUZZ_SEED_DIR=$(BUILD)/fuzz/checkpoint_corpus $(BUILD)/fuzz/fuzz_checkpoint -runs=0
	$(BUILD)/fuzz/fuzz_checkpoint -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	  -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/checkpoint- \
	  $(BUILD)/fuzz/checkpoint_corpus

# libFuzzer on the whole model path (tests/fuzz/fuzz_model.c): format sniffing, both
# importers, the graph passes, weight packing, net planning and a forward pass on small
# inputs. Needs the library itself built with clang and the fuzzer's instrumentation, in
# $(BUILD)/fuzz/lib. Seeds: the ONNX and TFLite corpora of the two targets above.
.PHONY: fuzz-model
$(BUILD)/fuzz/fuzz_model: tests/fuzz/fuzz_model.c $(LIB_SRC) $(wildcard pipeline/*/*.h \
                          include/graft/*.h kernels/*.h)
	@# Only pipeline/ (the parsers, passes and planner) is instrumented: clang with ASan spends
	@# many minutes and gigabytes on the unrolled kernel templates, and the kernels have their
	@# own sanitizer run in check-san.
	$(MAKE) --no-print-directory CC=$(FUZZ_CC) BUILD=$(BUILD)/fuzz/lib \
	  PIPE_CFLAGS="-O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" \
	  $(BUILD)/fuzz/lib/libgraft.a
	$(FUZZ_CC) -std=gnu11 -g -O1 -Wall -Wextra -Wno-unused-parameter -Iinclude -Ikernels \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ $< \
	  $(BUILD)/fuzz/lib/libgraft.a $(LDLIBS)
fuzz-model: deps
	$(call apt_ensure,$(DEPS_FUZZ))
	$(MAKE) --no-print-directory $(BUILD)/fuzz/fuzz_model
	@mkdir -p $(BUILD)/fuzz/model_corpus
	$(BUILD)/fuzz/fuzz_model -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=4096 \
	  -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/model- $(BUILD)/fuzz/model_corpus \
	  $(wildcard $(BUILD)/fuzz/corpus) $(wildcard $(BUILD)/fuzz/tflite_corpus)
