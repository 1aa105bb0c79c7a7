/* FAKE libnvcuvid: the NVDECODE API subset that daemon/jetsentry/capture/nvcuvid.py calls,
 * for tests on machines without an NVIDIA driver.  Structures and signatures as in NVIDIA's
 * Video Codec SDK headers nvcuvid.h and cuviddec.h (LP64 Linux: tcu_ulong is unsigned long).
 *
 * What it reproduces of the real library's documented behaviour:
 * - cuvidParseVideoData calls the parser's callbacks synchronously on the calling thread:
 *   the sequence callback before the first picture (its return value > 1 overrides the
 *   number of decode surfaces), the decode callback once per packet (one picture per packet
 *   here), the display callback in display order once more than ulMaxDisplayDelay pictures
 *   wait, the rest at end of stream (and once with NULL under CUVID_PKT_NOTIFY_EOS);
 *   a callback returning 0 stops the parse with an error;
 * - cuvidMapVideoFrame64 gives a device address and pitch per picture, at most
 *   ulNumOutputSurfaces mapped at once, and cuvidUnmapVideoFrame64 takes them back.
 * No video is decoded: "device addresses" are numbers.  Knobs and counters (fake_*) let the
 * tests set the stream's format, inject failures, slow the parse down, and read back what the
 * library was given. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <time.h>

typedef int CUresult;
#define CUDA_SUCCESS 0
#define CUDA_ERROR_INVALID_VALUE 1
#define CUDA_ERROR_MAP_FAILED 205
#define CUDA_ERROR_NOT_MAPPED 211
#define CUVID_PKT_ENDOFSTREAM 0x01
#define CUVID_PKT_TIMESTAMP 0x02
#define CUVID_PKT_NOTIFY_EOS 0x10

typedef struct {
    int codec;
    struct { unsigned int numerator, denominator; } frame_rate;
    unsigned char progressive_sequence, bit_depth_luma_minus8, bit_depth_chroma_minus8, min_num_decode_surfaces;
    unsigned int coded_width, coded_height;
    struct { int left, top, right, bottom; } display_area;
    int chroma_format;
    unsigned int bitrate;
    struct { int x, y; } display_aspect_ratio;
    struct {
        unsigned char video_format : 3, video_full_range_flag : 1, reserved_zero_bits : 4;
        unsigned char color_primaries, transfer_characteristics, matrix_coefficients;
    } video_signal_description;
    unsigned int seqhdr_data_length;
} CUVIDEOFORMAT;

typedef struct {
    int picture_index, progressive_frame, top_field_first, repeat_first_field;
    long long timestamp;
} CUVIDPARSERDISPINFO;

typedef struct {
    unsigned long flags, payload_size;
    const unsigned char *payload;
    long long timestamp;
} CUVIDSOURCEDATAPACKET;

typedef int (*PFNVIDSEQUENCECALLBACK)(void *, CUVIDEOFORMAT *);
typedef int (*PFNVIDDECODECALLBACK)(void *, void *);
typedef int (*PFNVIDDISPLAYCALLBACK)(void *, CUVIDPARSERDISPINFO *);

typedef struct {
    int CodecType;
    unsigned int ulMaxNumDecodeSurfaces, ulClockRate, ulErrorThreshold, ulMaxDisplayDelay, uReserved1[5];
    void *pUserData;
    PFNVIDSEQUENCECALLBACK pfnSequenceCallback;
    PFNVIDDECODECALLBACK pfnDecodePicture;
    PFNVIDDISPLAYCALLBACK pfnDisplayPicture;
    void *pvReserved2[7];
    void *pExtVideoInfo;
} CUVIDPARSERPARAMS;

typedef struct {
    unsigned long ulWidth, ulHeight, ulNumDecodeSurfaces;
    int CodecType, ChromaFormat;
    unsigned long ulCreationFlags, bitDepthMinus8, ulIntraDecodeOnly, ulMaxWidth, ulMaxHeight, Reserved1;
    struct { short left, top, right, bottom; } display_area;
    int OutputFormat, DeinterlaceMode;
    unsigned long ulTargetWidth, ulTargetHeight, ulNumOutputSurfaces;
    void *vidLock;
    struct { short left, top, right, bottom; } target_rect;
    unsigned long Reserved2[5];
} CUVIDDECODECREATEINFO;

typedef struct {
    int progressive_frame, second_field, top_field_first, unpaired_field;
    unsigned int reserved_flags, reserved_zero;
    unsigned long long raw_input_dptr;
    unsigned int raw_input_pitch, raw_input_format;
    unsigned long long raw_output_dptr;
    unsigned int raw_output_pitch, Reserved1;
    void *output_stream;
    unsigned int Reserved[46];
    void *Reserved2[2];
} CUVIDPROCPARAMS;

/* ---- the fake's state and knobs ---------------------------------------------------------- */

#define MAX_QUEUE 64
#define PITCH 2048ULL

typedef struct {
    CUVIDPARSERPARAMS params;
    int sequenced, pictures, queue[MAX_QUEUE], queued;
    long long stamps[MAX_QUEUE];
    unsigned char picture_params[64]; /* what the decode callback is handed */
} Parser;

typedef struct {
    CUVIDDECODECREATEINFO info;
    int mapped;
    unsigned long long mapped_ptrs[16];
} Decoder;

static CUVIDEOFORMAT format = {
    .codec = 4, .frame_rate = {30, 1}, .progressive_sequence = 1, .min_num_decode_surfaces = 5,
    .coded_width = 1920, .coded_height = 1088, .display_area = {0, 0, 1920, 1080}, .chroma_format = 1,
};
static int fail_decode_at = -1;      /* picture number whose cuvidDecodePicture fails */
static long parse_delay_us = 0;      /* each cuvidParseVideoData takes at least this long */
static int resequence = 0;           /* the next packet carries a sequence header again */
static CUVIDDECODECREATEINFO last_create;
static CUVIDPROCPARAMS last_proc;
static CUVIDPARSERPARAMS last_parser;
static long counters[8];             /* parsers, decoders, decodes, maps, unmaps, parses, destroyed parsers, destroyed decoders */

void fake_set_format(unsigned int coded_w, unsigned int coded_h, int right, int bottom, int surfaces,
                     int bit_depth_minus8, int chroma, int progressive) {
    format.coded_width = coded_w;
    format.coded_height = coded_h;
    format.display_area.right = right;
    format.display_area.bottom = bottom;
    format.min_num_decode_surfaces = (unsigned char)surfaces;
    format.bit_depth_luma_minus8 = format.bit_depth_chroma_minus8 = (unsigned char)bit_depth_minus8;
    format.chroma_format = chroma;
    format.progressive_sequence = (unsigned char)progressive;
}
void fake_fail_decode_at(int picture) { fail_decode_at = picture; }
void fake_set_parse_delay_us(long us) { parse_delay_us = us; }
void fake_resequence(void) { resequence = 1; }
void fake_reset(void) {
    memset(counters, 0, sizeof counters);
    fail_decode_at = -1;
    parse_delay_us = 0;
    resequence = 0;
}
long fake_counter(int which) { return counters[which]; }
void fake_last_create(CUVIDDECODECREATEINFO *out) { *out = last_create; }
void fake_last_proc(CUVIDPROCPARAMS *out) { *out = last_proc; }
void fake_last_parser(CUVIDPARSERPARAMS *out) { *out = last_parser; }
/* sizeof and a few offsetof of each structure, as this compiler lays the header out */
long fake_layout(int which) {
    switch (which) {
    case 0: return sizeof(CUVIDEOFORMAT);
    case 1: return sizeof(CUVIDPARSERDISPINFO);
    case 2: return sizeof(CUVIDSOURCEDATAPACKET);
    case 3: return sizeof(CUVIDPARSERPARAMS);
    case 4: return sizeof(CUVIDDECODECREATEINFO);
    case 5: return sizeof(CUVIDPROCPARAMS);
    case 6: return offsetof(CUVIDPARSERPARAMS, pUserData);
    case 7: return offsetof(CUVIDPARSERPARAMS, pExtVideoInfo);
    case 8: return offsetof(CUVIDDECODECREATEINFO, display_area);
    case 9: return offsetof(CUVIDDECODECREATEINFO, vidLock);
    case 10: return offsetof(CUVIDDECODECREATEINFO, target_rect);
    case 11: return offsetof(CUVIDPROCPARAMS, output_stream);
    case 12: return offsetof(CUVIDEOFORMAT, display_area);
    case 13: return offsetof(CUVIDEOFORMAT, seqhdr_data_length);
    default: return -1;
    }
}

static void wait_us(long us) {
    struct timespec t = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&t, NULL);
}

/* ---- the API ----------------------------------------------------------------------------- */

CUresult cuvidCreateVideoParser(void **parser, CUVIDPARSERPARAMS *params) {
    if (!parser || !params || !params->pfnSequenceCallback || !params->pfnDecodePicture || !params->pfnDisplayPicture)
        return CUDA_ERROR_INVALID_VALUE;
    Parser *p = calloc(1, sizeof(Parser));
    p->params = *params;
    last_parser = *params;
    *parser = p;
    counters[0]++;
    return CUDA_SUCCESS;
}

static int display(Parser *p, int picture, long long stamp) {
    CUVIDPARSERDISPINFO info = {.picture_index = picture, .progressive_frame = format.progressive_sequence,
                                .top_field_first = 0, .repeat_first_field = 0, .timestamp = stamp};
    return p->params.pfnDisplayPicture(p->params.pUserData, &info);
}

CUresult cuvidParseVideoData(void *parser, CUVIDSOURCEDATAPACKET *packet) {
    Parser *p = parser;
    counters[5]++;
    if (parse_delay_us)
        wait_us(parse_delay_us);
    if (packet->payload_size > 0) {
        if (!p->sequenced || resequence) {
            resequence = 0;
            int surfaces = p->params.pfnSequenceCallback(p->params.pUserData, &format);
            if (surfaces == 0)
                return CUDA_ERROR_INVALID_VALUE;
            p->params.ulMaxNumDecodeSurfaces = surfaces > 1 ? surfaces : p->params.ulMaxNumDecodeSurfaces;
            p->sequenced = 1;
        }
        int picture = p->pictures++ % (int)p->params.ulMaxNumDecodeSurfaces;
        memset(p->picture_params, 0, sizeof p->picture_params);
        memcpy(p->picture_params, &picture, sizeof picture);
        if (!p->params.pfnDecodePicture(p->params.pUserData, p->picture_params))
            return CUDA_ERROR_INVALID_VALUE;
        p->queue[p->queued] = picture;
        p->stamps[p->queued++] = (packet->flags & CUVID_PKT_TIMESTAMP) ? packet->timestamp : 0;
        while (p->queued > (int)p->params.ulMaxDisplayDelay) {
            if (!display(p, p->queue[0], p->stamps[0]))
                return CUDA_ERROR_INVALID_VALUE;
            memmove(p->queue, p->queue + 1, --p->queued * sizeof p->queue[0]);
            memmove(p->stamps, p->stamps + 1, p->queued * sizeof p->stamps[0]);
        }
    }
    if (packet->flags & CUVID_PKT_ENDOFSTREAM) {
        for (int i = 0; i < p->queued; i++)
            if (!display(p, p->queue[i], p->stamps[i]))
                return CUDA_ERROR_INVALID_VALUE;
        p->queued = 0;
        if (packet->flags & CUVID_PKT_NOTIFY_EOS)
            p->params.pfnDisplayPicture(p->params.pUserData, NULL);
    }
    return CUDA_SUCCESS;
}

CUresult cuvidDestroyVideoParser(void *parser) {
    free(parser);
    counters[6]++;
    return CUDA_SUCCESS;
}

CUresult cuvidCreateDecoder(void **decoder, CUVIDDECODECREATEINFO *info) {
    last_create = *info;
    if (info->ulNumDecodeSurfaces < 1 || info->OutputFormat != 0 || info->ulTargetWidth == 0 || info->ulTargetHeight == 0
        || info->ulNumOutputSurfaces < 1 || info->ulNumOutputSurfaces > 16)
        return CUDA_ERROR_INVALID_VALUE;
    Decoder *d = calloc(1, sizeof(Decoder));
    d->info = *info;
    *decoder = d;
    counters[1]++;
    return CUDA_SUCCESS;
}

CUresult cuvidDestroyDecoder(void *decoder) {
    free(decoder);
    counters[7]++;
    return CUDA_SUCCESS;
}

CUresult cuvidDecodePicture(void *decoder, void *picture_params) {
    if (!decoder || !picture_params)
        return CUDA_ERROR_INVALID_VALUE;
    if (counters[2]++ == fail_decode_at)
        return CUDA_ERROR_INVALID_VALUE;
    return CUDA_SUCCESS;
}

CUresult cuvidMapVideoFrame64(void *decoder, int picture, unsigned long long *ptr, unsigned int *pitch,
                              CUVIDPROCPARAMS *proc) {
    Decoder *d = decoder;
    last_proc = *proc;
    if (picture < 0 || picture >= (int)d->info.ulNumDecodeSurfaces)
        return CUDA_ERROR_INVALID_VALUE;
    if (d->mapped >= (int)d->info.ulNumOutputSurfaces)
        return CUDA_ERROR_MAP_FAILED;
    *ptr = 0x10000000ULL * (unsigned long long)(picture + 1);
    *pitch = (unsigned int)PITCH;
    d->mapped_ptrs[d->mapped++] = *ptr;
    counters[3]++;
    return CUDA_SUCCESS;
}

CUresult cuvidUnmapVideoFrame64(void *decoder, unsigned long long ptr) {
    Decoder *d = decoder;
    for (int i = 0; i < d->mapped; i++) {
        if (d->mapped_ptrs[i] == ptr) {
            d->mapped_ptrs[i] = d->mapped_ptrs[--d->mapped];
            counters[4]++;
            return CUDA_SUCCESS;
        }
    }
    return CUDA_ERROR_NOT_MAPPED;
}
