from setuptools import find_namespace_packages
from setuptools import setup


setup(
    name="collective.messenger",
    version="1.0.0a1",
    description=(
        "Send Plone news, events and construction notices to citizens on Telegram, "
        "WhatsApp, Signal and Threema."
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    classifiers=[
        "Environment :: Web Environment",
        "Framework :: Plone",
        "Framework :: Plone :: 6.2",
        "Framework :: Plone :: Addon",
        "Programming Language :: Python",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Operating System :: OS Independent",
        "License :: OSI Approved :: GNU General Public License v2 (GPLv2)",
    ],
    keywords="Plone messenger Telegram WhatsApp Signal Threema municipality RQ",
    license="GPL-2.0-only",
    packages=find_namespace_packages("src", include=["collective.*"]),
    package_dir={"": "src"},
    include_package_data=True,
    zip_safe=False,
    python_requires=">=3.10",
    install_requires=[
        "Products.CMFPlone>=6.2",
        "plone.api",
        "plone.restapi",
        "zope.interface",
        "messenger-worker",
        "rq",
        "redis",
        "requests",
        "phonenumbers",
        "qrcode",
    ],
    extras_require={
        "test": [
            "plone.app.testing",
            "pytest",
            "pytest-plone",
            "pytest-timeout",
            "hypothesis",
            "playwright",
        ],
    },
    entry_points={
        "z3c.autoinclude.plugin": ["target = plone"],
        "console_scripts": ["messenger-demo = collective.messenger.demo.run:main"],
        # The WSGI filter in front of Zope (README: "Operating in production").
        "paste.filter_factory": ["request_guard = collective.messenger.wsgi:filter_factory"],
    },
)
