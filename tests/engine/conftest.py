"""Tiny SD 2.x and SDXL pipelines built from configs (random weights), saved as model folders.

Like the real models, SD 2.x's tokenizer and SDXL's second tokenizer pad with `!`, not with the
end token: the padding must come from each tokenizer, and the differential tests see it.
"""

import pytest
import torch
from diffusers import (
    AutoencoderKL,
    EulerDiscreteScheduler,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

from engine.pipeline_configs import DEMO
from engine.tokenizer import load_clip_tokenizer

UNET_CONFIG, VAE_CONFIG, TEXT_ENCODER_CONFIG = DEMO.unet, DEMO.vae, DEMO.text_encoder
SCHEDULER_CONFIG = DEMO.scheduler


@pytest.fixture(scope="session")
def sdxl_folder(tmp_path_factory):
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=6 * 8 + 32,
        cross_attention_dim=64,
        norm_num_groups=8,
    )
    text_config = CLIPTextConfig(**TEXT_ENCODER_CONFIG)
    pipe = StableDiffusionXLPipeline(
        vae=AutoencoderKL(**VAE_CONFIG),
        text_encoder=CLIPTextModel(text_config),
        text_encoder_2=CLIPTextModelWithProjection(text_config),
        tokenizer=load_clip_tokenizer(),
        tokenizer_2=load_clip_tokenizer(pad_token="!"),
        unet=unet,
        scheduler=EulerDiscreteScheduler(**SCHEDULER_CONFIG),
    )
    folder = tmp_path_factory.mktemp("tiny-sdxl")
    pipe.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def sd2_folder(tmp_path_factory):
    """SD 2.x in miniature: linear projections, a v-prediction scheduler, `!` padding."""
    torch.manual_seed(1)
    pipe = StableDiffusionPipeline(
        vae=AutoencoderKL(**VAE_CONFIG),
        text_encoder=CLIPTextModel(
            CLIPTextConfig(**{**TEXT_ENCODER_CONFIG, "hidden_act": "gelu", "pad_token_id": 0})
        ),
        tokenizer=load_clip_tokenizer(pad_token="!"),
        unet=UNet2DConditionModel(**UNET_CONFIG, use_linear_projection=True),
        scheduler=EulerDiscreteScheduler(**SCHEDULER_CONFIG, prediction_type="v_prediction"),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    folder = tmp_path_factory.mktemp("tiny-sd2")
    pipe.save_pretrained(folder)
    return folder
