import sys

from portalis_kubectl.cli import main

sys.exit(main())
