"""Builders of the classic architectures, each a plain functional `keras.Model`."""

from kcnn.models._registry import get_model, list_models, register_model
from kcnn.models.features import FeatureInfo, FeatureStage, feature_extractor, feature_stages
from kcnn.models.alexnet import alexnet, alexnet_paper
from kcnn.models.fcn import fcn32s
from kcnn.models.googlenet import googlenet
from kcnn.models.heads import ends_in_softmax, inference_model, outputs_logits, split_outputs
from kcnn.models.lenet import lenet5
from kcnn.models.nin import nin, nin_imagenet
from kcnn.models.resnet import (plain20, plain32, plain44, plain56, plain110, resnet18,
                                resnet20, resnet32, resnet34, resnet44, resnet50, resnet56,
                                resnet101, resnet110, resnet152)
from kcnn.models.vgg import (vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19,
                             vgg19_bn)
