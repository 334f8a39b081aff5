from setuptools import find_packages
from setuptools import setup


setup(
    name="messenger-worker",
    version="1.0.0a1",
    description=(
        "Delivery worker for collective.messenger: sends Plone posts to Telegram, "
        "WhatsApp, Signal and Threema through RQ, without Zope."
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="GPL-2.0-only",
    packages=find_packages("src"),
    package_dir={"": "src"},
    include_package_data=True,
    python_requires=">=3.10",
    install_requires=["rq>=2.0", "redis>=5.0", "requests>=2.31"],
    entry_points={"console_scripts": ["messenger-worker = messenger_worker.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "License :: OSI Approved :: GNU General Public License v2 (GPLv2)",
    ],
)
