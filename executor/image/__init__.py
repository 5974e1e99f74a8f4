"""The sandbox runtime image: Dockerfile for normal hosts, offline debootstrap build otherwise."""

from executor.image.build import DEFAULT_TAG, ImageBuildError, build_image, image_exists

__all__ = ["DEFAULT_TAG", "ImageBuildError", "build_image", "image_exists"]
