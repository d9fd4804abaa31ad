// SPDX-License-Identifier: MIT
// An H.264 (baseline, low-latency) video_encoder over Cisco's OpenH264; only with RTMPX_WITH_OPENH264.
#pragma once

#if defined(RTMPX_WITH_OPENH264)

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <wels/codec_api.h>

#include <rtmpx/config.hpp>
#include <rtmpx/detail/avc.hpp>
#include <rtmpx/detail/yuv.hpp>
#include <rtmpx/media.hpp>

RTMPX_NAMESPACE_BEGIN

/**
 * H.264 through OpenH264, set up for camera-style real-time streaming: one spatial layer, one
 * temporal layer, baseline profile (CAVLC, no B-frames, so output order is input order), no
 * frame skipping, constant SPS/PPS ids (the sequence header from `init` stays valid).
 *
 * Parameters (`set_parameter` before or after `init`; after `init` the ones OpenH264 can change
 * on the fly are applied at once, the others give `invalid_parameter`):
 * - "bitrate": target bits/s, > 0 (default 2'500'000); changeable after init.
 * - "max_bitrate": bits/s, 0 for unspecified (default 0); at init and on a change after init it
 *   must be 0 or at least "bitrate" (to move both, order the calls so that this holds at each
 *   step); after init it can be changed but not set back to 0.
 * - "frame_rate": 1..120 (default 30); changeable after init.
 * - "key_frame_interval": frames between IDR pictures, 0 for only the first (default 2 s worth
 *   of frames, following "frame_rate" until set); changeable after init.
 * - "rate_control": -1 off, 0 quality, 1 bitrate (default), 2 buffer-based, 3 timestamp-based;
 *   changeable after init.
 * - "complexity": 0 low, 1 medium (default), 2 high; changeable after init.
 * - "threads": 0 automatic, 1 (default) single-threaded, N threads (one slice each); before
 *   init only.
 *
 * Thread: not thread-safe; one thread at a time drives an encoder (distinct encoders are
 * independent).
 * Errors: `encoder_error` values; nothing is thrown (beyond std::bad_alloc from the containers).
 * Lifetime: move-only; the destructor releases the OpenH264 instance.
 */
class openh264_encoder {
public:
    openh264_encoder() noexcept = default;
    openh264_encoder(const openh264_encoder&) = delete;
    openh264_encoder& operator=(const openh264_encoder&) = delete;

    openh264_encoder(openh264_encoder&& other) noexcept
        : encoder_(std::exchange(other.encoder_, nullptr)), state_(std::exchange(other.state_, state::fresh)),
          settings_(other.settings_), width_(other.width_), height_(other.height_),
          pending_idr_(other.pending_idr_), base_ms_(other.base_ms_), frames_(other.frames_),
          buffer_(std::move(other.buffer_)), nals_(std::move(other.nals_)) {}

    openh264_encoder& operator=(openh264_encoder&& other) noexcept {
        if (this != &other) {
            release();
            encoder_ = std::exchange(other.encoder_, nullptr);
            state_ = std::exchange(other.state_, state::fresh);
            settings_ = other.settings_;
            width_ = other.width_;
            height_ = other.height_;
            pending_idr_ = other.pending_idr_;
            base_ms_ = other.base_ms_;
            frames_ = other.frames_;
            buffer_ = std::move(other.buffer_);
            nals_ = std::move(other.nals_);
        }
        return *this;
    }

    ~openh264_encoder() { release(); }

    /**
     * Opens the codec for `width` x `height` pictures and puts the AVCDecoderConfigurationRecord
     * in `header_data`. Calling it again re-opens the codec (e.g. for a new size).
     *
     * Errors: `unsupported_resolution` unless both sizes are even and in 16..4096;
     * `invalid_parameter` when OpenH264 refuses the settings (e.g. max_bitrate below bitrate);
     * `allocation_failure`; `encode_failure` when no SPS/PPS come out; `already_closed`.
     */
    std::error_code init(std::uint32_t width, std::uint32_t height, std::vector<std::byte>& header_data) {
        header_data.clear();
        if (state_ == state::closed) return encoder_error::already_closed;
        if (width < 16 || height < 16 || width > 4096 || height > 4096 || (width & 1u) || (height & 1u))
            return encoder_error::unsupported_resolution;
        if (settings_.max_bitrate != 0 && settings_.max_bitrate < settings_.bitrate)
            return encoder_error::invalid_parameter;
        if (!encoder_) {
            if (WelsCreateSVCEncoder(&encoder_) != 0 || !encoder_) {
                encoder_ = nullptr;
                return encoder_error::allocation_failure;
            }
            int quiet = WELS_LOG_QUIET;
            encoder_->SetOption(ENCODER_OPTION_TRACE_LEVEL, &quiet);
        }
        if (state_ == state::ready) {
            encoder_->Uninitialize();
            state_ = state::fresh;
        }

        SEncParamExt p{};
        encoder_->GetDefaultParams(&p);
        fill_params(p, width, height);
        if (const int rc = encoder_->InitializeExt(&p); rc != cmResultSuccess) return map_result(rc);
        int format = videoFormatI420;
        encoder_->SetOption(ENCODER_OPTION_DATAFORMAT, &format);

        SFrameBSInfo info{};
        if (encoder_->EncodeParameterSets(&info) != cmResultSuccess) {
            encoder_->Uninitialize();
            return encoder_error::encode_failure;
        }
        collect_nal_units(info);
        std::span<const std::byte> sps, pps;
        for (auto nal : nals_) {
            const std::uint8_t type = detail::nal_unit_type(nal);
            if (type == static_cast<std::uint8_t>(detail::nal_type::sps) && sps.empty()) sps = nal;
            if (type == static_cast<std::uint8_t>(detail::nal_type::pps) && pps.empty()) pps = nal;
        }
        header_data = detail::build_avc_decoder_config(sps, pps);
        if (header_data.empty()) {
            encoder_->Uninitialize();
            return encoder_error::encode_failure;
        }

        width_ = width;
        height_ = height;
        base_ms_ = 0;
        frames_ = 0;
        buffer_.resize(width, height);
        state_ = state::ready;
        return {};
    }

    /**
     * Sets a parameter by name (see the class comment for names and ranges).
     *
     * Errors: `invalid_parameter` for an unknown name, a value out of range or not integral
     * where an integer is expected, or a change OpenH264 refuses after init; `already_closed`.
     */
    std::error_code set_parameter(std::string_view name, double value) {
        if (state_ == state::closed) return encoder_error::already_closed;
        if (!std::isfinite(value)) return encoder_error::invalid_parameter;
        settings next = settings_;
        ENCODER_OPTION option{};
        if (name == "bitrate") {
            if (value < 1 || value > std::numeric_limits<int>::max()) return encoder_error::invalid_parameter;
            next.bitrate = static_cast<int>(std::lround(value));
            option = ENCODER_OPTION_BITRATE;
        } else if (name == "max_bitrate") {
            if (value < 0 || value > std::numeric_limits<int>::max()) return encoder_error::invalid_parameter;
            next.max_bitrate = static_cast<int>(std::lround(value));
            option = ENCODER_OPTION_MAX_BITRATE;
        } else if (name == "frame_rate") {
            if (value < 1 || value > 120) return encoder_error::invalid_parameter;
            next.frame_rate = value;
            option = ENCODER_OPTION_FRAME_RATE;
        } else if (name == "key_frame_interval") {
            if (!integral_in(value, 0, std::numeric_limits<int>::max())) return encoder_error::invalid_parameter;
            next.key_frame_interval = static_cast<int>(value);
            option = ENCODER_OPTION_IDR_INTERVAL;
        } else if (name == "rate_control") {
            if (!integral_in(value, -1, 3)) return encoder_error::invalid_parameter;
            next.rate_control = static_cast<int>(value);
            option = ENCODER_OPTION_RC_MODE;
        } else if (name == "complexity") {
            if (!integral_in(value, 0, 2)) return encoder_error::invalid_parameter;
            next.complexity = static_cast<int>(value);
            option = ENCODER_OPTION_COMPLEXITY;
        } else if (name == "threads") {
            if (!integral_in(value, 0, 64)) return encoder_error::invalid_parameter;
            if (state_ == state::ready) return encoder_error::invalid_parameter;
            next.threads = static_cast<int>(value);
            settings_ = next;
            return {};
        } else {
            return encoder_error::invalid_parameter;
        }
        if (state_ == state::ready) {
            // OpenH264 cannot lift a cap on the fly, and it handles a cap below the target unevenly.
            if (option == ENCODER_OPTION_MAX_BITRATE && next.max_bitrate == 0) return encoder_error::invalid_parameter;
            if (next.max_bitrate != 0 && next.max_bitrate < next.bitrate) return encoder_error::invalid_parameter;
            if (auto ec = apply(option, next); ec) return ec;
        }
        settings_ = next;
        return {};
    }

    /// The current value of a parameter (the effective key-frame interval); nullopt for an unknown name.
    std::optional<double> get_parameter(std::string_view name) const {
        if (name == "bitrate") return settings_.bitrate;
        if (name == "max_bitrate") return settings_.max_bitrate;
        if (name == "frame_rate") return settings_.frame_rate;
        if (name == "key_frame_interval") return settings_.effective_key_frame_interval();
        if (name == "rate_control") return settings_.rate_control;
        if (name == "complexity") return settings_.complexity;
        if (name == "threads") return settings_.threads;
        return std::nullopt;
    }

    /// I420 first (passed through without a copy), then the formats converted on the way in.
    std::span<const pixel_format> supported_pixel_formats() const noexcept { return formats_; }

    /**
     * Encodes one picture of the size given to `init`. `out.data` gets the AVCC NAL units of
     * the picture without SPS/PPS/SEI; it is empty when OpenH264 skipped the picture.
     *
     * Errors: `not_initialized`; `already_closed`; `unsupported_pixel_format`;
     * `invalid_parameter` for a picture of another size or with missing planes;
     * `encode_failure`.
     */
    std::error_code encode(const canvas_view& picture, encoded_frame& out) {
        out.data.clear();
        out.key_frame = false;
        if (state_ == state::closed) return encoder_error::already_closed;
        if (state_ != state::ready) return encoder_error::not_initialized;
        if (picture.width != width_ || picture.height != height_) return encoder_error::invalid_parameter;

        SSourcePicture pic{};
        pic.iColorFormat = videoFormatI420;
        pic.iPicWidth = static_cast<int>(width_);
        pic.iPicHeight = static_cast<int>(height_);
        if (picture.format == pixel_format::i420) {
            if (!detail::canvas_view_valid(picture)) return encoder_error::invalid_parameter;
            for (int i = 0; i < 3; ++i) {
                pic.pData[i] = mutable_bytes(picture.planes[i]);
                pic.iStride[i] = static_cast<int>(picture.strides[i]);
            }
        } else {
            const detail::i420_planes planes = buffer_.planes();
            if (auto ec = detail::convert_to_i420(picture, planes); ec) return ec;
            pic.pData[0] = mutable_bytes(planes.y);
            pic.pData[1] = mutable_bytes(planes.u);
            pic.pData[2] = mutable_bytes(planes.v);
            pic.iStride[0] = static_cast<int>(planes.y_stride);
            pic.iStride[1] = static_cast<int>(planes.u_stride);
            pic.iStride[2] = static_cast<int>(planes.v_stride);
        }
        pic.uiTimeStamp = std::llround(base_ms_ + static_cast<double>(frames_) * 1000.0 / settings_.frame_rate);

        if (pending_idr_) {
            encoder_->ForceIntraFrame(true);
            pending_idr_ = false;
        }
        SFrameBSInfo info{};
        if (encoder_->EncodeFrame(&pic, &info) != cmResultSuccess) return encoder_error::encode_failure;
        ++frames_;
        if (info.eFrameType == videoFrameTypeSkip || info.eFrameType == videoFrameTypeInvalid) return {};

        collect_nal_units(info);
        std::size_t total = 0;
        for (auto nal : nals_) total += 4 + nal.size();
        out.data.reserve(total);
        for (auto nal : nals_) {
            switch (static_cast<detail::nal_type>(detail::nal_unit_type(nal))) {
            case detail::nal_type::sei:
            case detail::nal_type::sps:
            case detail::nal_type::pps:
            case detail::nal_type::access_unit_delimiter: continue;
            default: detail::append_nal_unit(out.data, nal, detail::nal_framing::avcc);
            }
        }
        out.key_frame = info.eFrameType == videoFrameTypeIDR;
        return {};
    }

    /// Makes the next `encode` produce an IDR picture.
    void force_key_frame() noexcept { pending_idr_ = true; }

    /**
     * Uninitialises the codec; every later call gives `already_closed`. OpenH264 buffers
     * nothing, so `remaining` is left empty.
     *
     * Errors: `already_closed` on a second call.
     */
    std::error_code close(std::vector<std::byte>& remaining) {
        remaining.clear();
        if (state_ == state::closed) return encoder_error::already_closed;
        if (state_ == state::ready) encoder_->Uninitialize();
        state_ = state::closed;
        return {};
    }

    std::string_view identifier() const noexcept { return "openh264"; }
    /// FLV VideoTagHeader CodecID: 7 (AVC).
    std::uint8_t flv_codec_id() const noexcept { return 7; }

private:
    enum class state { fresh, ready, closed };

    struct settings {
        int bitrate = 2'500'000;
        int max_bitrate = 0;
        double frame_rate = 30;
        int key_frame_interval = -1;  // -1: two seconds' worth of frames
        int rate_control = RC_BITRATE_MODE;
        int complexity = MEDIUM_COMPLEXITY;
        int threads = 1;

        int effective_key_frame_interval() const noexcept {
            return key_frame_interval >= 0 ? key_frame_interval : static_cast<int>(std::lround(2 * frame_rate));
        }
    };

    static constexpr std::array<pixel_format, 6> formats_ = {pixel_format::i420, pixel_format::nv12,
                                                             pixel_format::rgba, pixel_format::bgra,
                                                             pixel_format::rgb24, pixel_format::bgr24};

    static bool integral_in(double v, double lo, double hi) noexcept {
        return v >= lo && v <= hi && std::floor(v) == v;
    }

    static unsigned char* mutable_bytes(const std::byte* p) noexcept {
        // OpenH264 takes non-const plane pointers but only reads the source picture.
        return static_cast<unsigned char*>(const_cast<void*>(static_cast<const void*>(p)));
    }

    static std::error_code map_result(int rc) noexcept {
        switch (rc) {
        case cmInitParaError:
        case cmUnsupportedData: return encoder_error::invalid_parameter;
        case cmMallocMemeError: return encoder_error::allocation_failure;
        default: return encoder_error::encode_failure;
        }
    }

    void fill_params(SEncParamExt& p, std::uint32_t width, std::uint32_t height) const noexcept {
        p.iUsageType = CAMERA_VIDEO_REAL_TIME;
        p.iPicWidth = static_cast<int>(width);
        p.iPicHeight = static_cast<int>(height);
        p.iTargetBitrate = settings_.bitrate;
        p.iMaxBitrate = settings_.max_bitrate == 0 ? UNSPECIFIED_BIT_RATE : settings_.max_bitrate;
        p.iRCMode = static_cast<RC_MODES>(settings_.rate_control);
        p.fMaxFrameRate = static_cast<float>(settings_.frame_rate);
        p.iTemporalLayerNum = 1;
        p.iSpatialLayerNum = 1;
        p.iComplexityMode = static_cast<ECOMPLEXITY_MODE>(settings_.complexity);
        p.uiIntraPeriod = static_cast<unsigned int>(settings_.effective_key_frame_interval());
        p.iNumRefFrame = 1;
        p.eSpsPpsIdStrategy = CONSTANT_ID;
        p.bPrefixNalAddingCtrl = false;
        p.bEnableSSEI = false;
        p.bSimulcastAVC = false;
        p.iPaddingFlag = 0;
        p.iEntropyCodingModeFlag = 0;  // CAVLC: baseline
        p.bEnableFrameSkip = false;
        p.bEnableLongTermReference = false;
        p.iMultipleThreadIdc = static_cast<unsigned short>(settings_.threads);

        SSpatialLayerConfig& layer = p.sSpatialLayers[0];
        layer.iVideoWidth = p.iPicWidth;
        layer.iVideoHeight = p.iPicHeight;
        layer.fFrameRate = p.fMaxFrameRate;
        layer.iSpatialBitrate = p.iTargetBitrate;
        layer.iMaxSpatialBitrate = p.iMaxBitrate;
        layer.uiProfileIdc = PRO_BASELINE;
        if (settings_.threads == 1) {
            layer.sSliceArgument.uiSliceMode = SM_SINGLE_SLICE;
        } else {
            layer.sSliceArgument.uiSliceMode = SM_FIXEDSLCNUM_SLICE;
            layer.sSliceArgument.uiSliceNum = static_cast<unsigned int>(settings_.threads);  // 0: automatic
        }
    }

    // Applies a changed parameter to the running codec.
    std::error_code apply(ENCODER_OPTION option, const settings& next) {
        int rc = cmResultSuccess;
        switch (option) {
        case ENCODER_OPTION_BITRATE: {
            SBitrateInfo b{SPATIAL_LAYER_ALL, next.bitrate};
            rc = encoder_->SetOption(option, &b);
            break;
        }
        case ENCODER_OPTION_MAX_BITRATE: {
            SBitrateInfo b{SPATIAL_LAYER_ALL, next.max_bitrate};
            rc = encoder_->SetOption(option, &b);
            break;
        }
        case ENCODER_OPTION_FRAME_RATE: {
            float f = static_cast<float>(next.frame_rate);
            rc = encoder_->SetOption(option, &f);
            if (rc == cmResultSuccess && next.key_frame_interval < 0) {
                int idr = next.effective_key_frame_interval();
                rc = encoder_->SetOption(ENCODER_OPTION_IDR_INTERVAL, &idr);
            }
            if (rc == cmResultSuccess) {  // timestamps continue from where the old rate left them
                base_ms_ += static_cast<double>(frames_) * 1000.0 / settings_.frame_rate;
                frames_ = 0;
            }
            break;
        }
        case ENCODER_OPTION_IDR_INTERVAL: {
            int idr = next.key_frame_interval;
            rc = encoder_->SetOption(option, &idr);
            break;
        }
        case ENCODER_OPTION_RC_MODE: {
            RC_MODES mode = static_cast<RC_MODES>(next.rate_control);
            rc = encoder_->SetOption(option, &mode);
            break;
        }
        case ENCODER_OPTION_COMPLEXITY: {
            ECOMPLEXITY_MODE mode = static_cast<ECOMPLEXITY_MODE>(next.complexity);
            rc = encoder_->SetOption(option, &mode);
            break;
        }
        default: return encoder_error::invalid_parameter;
        }
        return rc == cmResultSuccess ? std::error_code{} : std::error_code{encoder_error::invalid_parameter};
    }

    // The NAL units of every layer of `info` into nals_ (spans into OpenH264's buffers).
    void collect_nal_units(const SFrameBSInfo& info) {
        nals_.clear();
        for (int i = 0; i < info.iLayerNum; ++i) {
            const SLayerBSInfo& layer = info.sLayerInfo[i];
            std::size_t size = 0;
            for (int n = 0; n < layer.iNalCount; ++n) size += static_cast<std::size_t>(layer.pNalLengthInByte[n]);
            const void* bytes = layer.pBsBuf;
            detail::split_annex_b({static_cast<const std::byte*>(bytes), size}, nals_);
        }
    }

    void release() noexcept {
        if (!encoder_) return;
        if (state_ == state::ready) encoder_->Uninitialize();
        WelsDestroySVCEncoder(encoder_);
        encoder_ = nullptr;
    }

    ISVCEncoder* encoder_ = nullptr;
    state state_ = state::fresh;
    settings settings_;
    std::uint32_t width_ = 0;
    std::uint32_t height_ = 0;
    bool pending_idr_ = false;
    double base_ms_ = 0;       // timestamp of frame 0 at the current frame rate
    std::uint64_t frames_ = 0; // frames encoded at the current frame rate
    detail::i420_buffer buffer_;
    std::vector<std::span<const std::byte>> nals_;
};

static_assert(video_encoder<openh264_encoder>);

RTMPX_NAMESPACE_END

#endif // defined(RTMPX_WITH_OPENH264)
