/*
 * tests/pipeline/test_image.c: the Criterion suite around the plain checks of check_image.c
 * (decoding every format, resizing on every ISA, cropping, normalising, graft_transform; the
 * .npy reader and writer).
 */

#include "../crit_check.h"

#define IMAGE_TEST(name) GRAFT_CHECK_TEST(image, graft_checks_image, name)

IMAGE_TEST(shared_bilinear_matches_pil)
IMAGE_TEST(shared_input_tensor)
IMAGE_TEST(pil_parity)
IMAGE_TEST(bmp_variants)
IMAGE_TEST(png_variants)
IMAGE_TEST(jpeg_variants)
IMAGE_TEST(webp_variants)
IMAGE_TEST(truncated_every_offset)
IMAGE_TEST(corrupt_and_unknown)
IMAGE_TEST(bmp_absurd_headers)
IMAGE_TEST(max_pixels_guard)
IMAGE_TEST(load_file_errors)
IMAGE_TEST(resize_properties)
IMAGE_TEST(torchvision_geometry)
IMAGE_TEST(to_float)
IMAGE_TEST(npy_format)
IMAGE_TEST(gif_variants)
IMAGE_TEST(resize_isas_match_scalar)
IMAGE_TEST(transform_matches_reference)
IMAGE_TEST(transform_api)
