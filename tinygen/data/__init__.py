"""``tinygen.data``: MNIST, Fashion-MNIST and the UCI digits offline, IDX files, transforms, and a DataLoader."""
from .idx import read_idx, write_idx, parse_idx, IDXError
from .mnist import (load_mnist, load_fashion_mnist, load_dataset, DatasetNotFoundError,
                    FASHION_CLASSES)
from .uci_digits import load_uci_digits, uci_style, mnist_style
from .loader import ArrayDataset, DataLoader, ZipLoader
from . import transforms
from .transforms import (DynamicBinarize, FixedBinarize, RandomAffine, RandomShift, Compose, fixed_binarize,
                         binarize_images, binarized_mnist, dequantized_mnist)
