"""``tinygen.data``: MNIST and Fashion-MNIST offline, IDX files, transforms, and a DataLoader."""
from .idx import read_idx, write_idx, parse_idx, IDXError
from .mnist import (load_mnist, load_fashion_mnist, load_dataset, DatasetNotFoundError,
                    FASHION_CLASSES)
from .loader import ArrayDataset, DataLoader, ZipLoader
from . import transforms
from .transforms import (DynamicBinarize, FixedBinarize, RandomShift, Compose, fixed_binarize,
                         binarize_images, binarized_mnist)
