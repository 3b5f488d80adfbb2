import sharp from "sharp";
import { sniffImageType } from "./sniff";
import { UploadError } from "./upload-error";

export interface ImageLimits {
  /** Decoded pixels (width × height) an upload may have; checked by sharp before decoding. */
  maxPixels: number;
  /** Longest side of the image handed to the LLM. */
  maxDimension: number;
  /** Longest side of the thumbnail. */
  thumbnailPx: number;
}

export interface PreparedImage {
  /** Auto-rotated, metadata stripped, at most maxDimension on its longest side, JPEG. */
  image: Buffer;
  thumbnail: Buffer;
  mimeType: "image/jpeg";
  width: number;
  height: number;
  sourceType: string;
}

/**
 * Decodes an upload with sharp (libvips, in libuv's thread pool: never on the socket loop),
 * applies the EXIF orientation, drops all metadata (sharp writes none unless asked), flattens
 * transparency, resizes for the model and makes a thumbnail. Refuses non-images, pixel bombs
 * and truncated or corrupt files with their own codes.
 */
export async function prepareImage(data: Buffer, limits: ImageLimits): Promise<PreparedImage> {
  const sourceType = sniffImageType(data);
  if (!sourceType) throw new UploadError("not_an_image", "the body is not a JPEG or PNG image");
  let image: { data: Buffer; info: sharp.OutputInfo };
  try {
    image = await sharp(data, { limitInputPixels: limits.maxPixels, failOn: "error" })
      .rotate()
      .resize({ width: limits.maxDimension, height: limits.maxDimension, fit: "inside", withoutEnlargement: true })
      .flatten({ background: "#ffffff" })
      .jpeg({ quality: 85 })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    const message = (err as Error).message ?? "";
    if (/pixel limit/i.test(message)) {
      throw new UploadError("too_many_pixels", `the image has more than ${limits.maxPixels} pixels`, { cause: err });
    }
    throw new UploadError("corrupt_image", "the image is truncated or corrupt", { cause: err });
  }
  const thumbnail = await sharp(image.data)
    .resize({ width: limits.thumbnailPx, height: limits.thumbnailPx, fit: "inside", withoutEnlargement: true })
    .jpeg({ quality: 70 })
    .toBuffer();
  return {
    image: image.data,
    thumbnail,
    mimeType: "image/jpeg",
    width: image.info.width,
    height: image.info.height,
    sourceType,
  };
}
